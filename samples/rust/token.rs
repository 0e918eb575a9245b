//! token.rs: the token contract of ../token.wat, in Rust (`no_std`, no allocator).
//!
//! Same exports, storage keys, events and traps as token.wat:
//!   mint(to: i32, amount: i64) -> i64         creates amount tokens for `to`; its new balance
//!   balance_of(who: i32) -> i64               the account's balance (0 if it never held tokens)
//!   transfer(from: i32, to: i32, amount: i64) -> i32   moves amount; returns 1
//!   total_supply() -> i64                     the sum of all minted tokens
//! Accounts are ids 0 = alice, 1 = bob, 2 = carol; storage keys "bal:<name>" and "supply" hold
//! 8-byte little-endian u64s; events are "mint:<to>:<amount>" and "transfer:<from>-><to>:<amount>".
//! An unknown id, insufficient funds or a supply passing 2^64 - 1 panic; the panic handler traps
//! (the wasm `unreachable`), and SuperVM rolls the call back.
//!
//! Built by SuperVM when loaded, or by `python -m runtime.toolchains samples/rust/token.rs`,
//! which runs in this directory (OUT is a temporary directory):
//!   rustc --crate-type cdylib --target wasm32-unknown-unknown -C debuginfo=2 -C opt-level=0
//!         --edition 2021 --remap-path-prefix="$PWD"=. --error-format short --color never
//!         --crate-name token --emit link=OUT/token.wasm,dep-info=OUT/token.d token.rs
#![no_std]

// ---- the host ABI (see ../README.md): imports named by module and function --------------------

#[link(wasm_import_module = "storage_api")]
extern "C" {
    fn storage_get(key_ptr: *const u8, key_len: u32) -> i64;
    fn storage_read_value(ptr: *mut u8, len: u32) -> i32;
    fn storage_set(key_ptr: *const u8, key_len: u32, value_ptr: *const u8, value_len: u32) -> i32;
}

#[link(wasm_import_module = "chain_api")]
extern "C" {
    fn emit_event(data_ptr: *const u8, data_len: u32) -> i32;
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

// ---- accounts ---------------------------------------------------------------------------------

/// The storage keys of the accounts, by id; an account's name is its key after "bal:".
const ACCOUNTS: [&[u8]; 3] = [b"bal:alice", b"bal:bob", b"bal:carol"];
const SUPPLY_KEY: &[u8] = b"supply";

/// The key of the account with this id; panics on an unknown one (a negative id is unknown).
fn account(id: i32) -> &'static [u8] {
    match ACCOUNTS.get(id as u32 as usize) {
        Some(key) => key,
        None => panic!("unknown account"),
    }
}

fn name(key: &[u8]) -> &[u8] {
    &key[4..]
}

// ---- storage ----------------------------------------------------------------------------------

/// The u64 stored under a key, 0 if absent. storage_get remembers the value it found, and
/// storage_read_value copies it out (it would trap after a miss).
fn read_u64(key: &[u8]) -> u64 {
    let mut value = [0u8; 8];
    unsafe {
        if storage_get(key.as_ptr(), key.len() as u32) != 0 {
            storage_read_value(value.as_mut_ptr(), 8);
        }
    }
    u64::from_le_bytes(value)
}

fn write_u64(key: &[u8], value: u64) {
    let bytes = value.to_le_bytes();
    unsafe {
        storage_set(key.as_ptr(), key.len() as u32, bytes.as_ptr(), 8);
    }
}

// ---- building event text ----------------------------------------------------------------------

/// An event being built; the longest is well under 64 bytes.
struct Event {
    buf: [u8; 64],
    len: usize,
}

impl Event {
    fn new() -> Self {
        Event { buf: [0; 64], len: 0 }
    }

    fn push(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        self
    }

    /// Appends value in decimal.
    fn push_u64(&mut self, mut value: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut n = digits.len();
        loop {
            n -= 1;
            digits[n] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.push(&digits[n..])
    }

    fn emit(&self) {
        unsafe {
            emit_event(self.buf.as_ptr(), self.len as u32);
        }
    }
}

// ---- exports ----------------------------------------------------------------------------------

#[no_mangle]
pub extern "C" fn mint(to: i32, amount: i64) -> i64 {
    let key = account(to);
    let amount = amount as u64;
    let supply = match read_u64(SUPPLY_KEY).checked_add(amount) {
        Some(supply) => supply,
        None => panic!("total supply overflow"),
    };
    let balance = read_u64(key) + amount; // cannot overflow: no balance exceeds the supply
    write_u64(SUPPLY_KEY, supply);
    write_u64(key, balance);
    Event::new().push(b"mint:").push(name(key)).push(b":").push_u64(amount).emit();
    balance as i64
}

#[no_mangle]
pub extern "C" fn balance_of(who: i32) -> i64 {
    read_u64(account(who)) as i64
}

#[no_mangle]
pub extern "C" fn total_supply() -> i64 {
    read_u64(SUPPLY_KEY) as i64
}

#[no_mangle]
pub extern "C" fn transfer(from: i32, to: i32, amount: i64) -> i32 {
    let from_key = account(from);
    let to_key = account(to);
    let amount = amount as u64;
    let from_balance = read_u64(from_key);
    let mut to_balance = read_u64(to_key);
    if from_balance < amount {
        panic!("insufficient funds"); // before writing anything
    }
    if from == to {
        // to_balance was read before the debit: the balance after it is the right base.
        to_balance = from_balance - amount;
    }
    write_u64(from_key, from_balance - amount);
    write_u64(to_key, to_balance + amount); // cannot overflow: both are <= the supply
    Event::new()
        .push(b"transfer:")
        .push(name(from_key))
        .push(b"->")
        .push(name(to_key))
        .push(b":")
        .push_u64(amount)
        .emit();
    1
}
