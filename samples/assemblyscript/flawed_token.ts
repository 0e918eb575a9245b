// flawed_token.ts: token.ts with a planted bug (a transfer to oneself creates tokens), for the
// contract-testing examples; everything else is as in token.ts.
//
// Same exports, storage keys and events as token.wat:
//   mint(to: i32, amount: i64) -> i64         creates amount tokens for `to`; its new balance
//   balance_of(who: i32) -> i64               the account's balance (0 if it never held tokens)
//   transfer(from: i32, to: i32, amount: i64) -> i32   moves amount; returns 1
//   total_supply() -> i64                     the sum of all minted tokens
// Accounts are ids 0 = alice, 1 = bob, 2 = carol; storage keys "bal:<name>" and "supply" hold
// 8-byte little-endian u64s; events are "mint:<to>:<amount>" and "transfer:<from>-><to>:<amount>".
// An unknown id, insufficient funds or a supply passing 2^64 - 1 fail an assert: AssemblyScript
// calls env.abort, SuperVM reports an abort error with the message and token.ts line:col, and
// rolls the call back.
//
// Built with AssemblyScript 0.27.37 (npm ci here installs it), as SuperVM builds it on load:
//   npx asc flawed_token.ts --outFile flawed_token.wasm --sourceMap --debug --runtime stub --noColors

// ---- the host ABI (see ../README.md): imports named by module and function --------------------

@external("storage_api", "storage_get")
declare function storage_get(key_ptr: usize, key_len: usize): i64;
@external("storage_api", "storage_read_value")
declare function storage_read_value(ptr: usize, len: usize): i32;
@external("storage_api", "storage_set")
declare function storage_set(key_ptr: usize, key_len: usize, value_ptr: usize, value_len: usize): i32;
@external("chain_api", "emit_event")
declare function emit_event(data_ptr: usize, data_len: usize): i32;

// ---- accounts ---------------------------------------------------------------------------------

const NAMES: StaticArray<string> = ["alice", "bob", "carol"];

// The name of the account with this id. Compared unsigned, so a negative id is unknown too.
function account(id: i32): string {
  assert(<u32>id < <u32>NAMES.length, "unknown account");
  return NAMES[id];
}

// ---- storage ----------------------------------------------------------------------------------

// The u64 stored under a key, 0 if absent. storage_get remembers the value it found, and
// storage_read_value copies it out (it would trap after a miss).
function readU64(key: string): u64 {
  const k = String.UTF8.encode(key);
  const value = new ArrayBuffer(8); // zeroed
  if (storage_get(changetype<usize>(k), k.byteLength) != 0) {
    storage_read_value(changetype<usize>(value), 8);
  }
  return load<u64>(changetype<usize>(value)); // wasm is little-endian, as the stored values
}

function writeU64(key: string, value: u64): void {
  const k = String.UTF8.encode(key);
  const bytes = new ArrayBuffer(8);
  store<u64>(changetype<usize>(bytes), value);
  storage_set(changetype<usize>(k), k.byteLength, changetype<usize>(bytes), 8);
}

function emit(text: string): void {
  const data = String.UTF8.encode(text);
  emit_event(changetype<usize>(data), data.byteLength);
}

// ---- exports ----------------------------------------------------------------------------------

export function mint(to: i32, amount: i64): i64 {
  const name = account(to);
  const amt = <u64>amount;
  const supply = readU64("supply") + amt;
  assert(supply >= amt, "total supply overflow"); // the unsigned sum wrapped around
  const balance = readU64("bal:" + name) + amt; // cannot wrap: no balance exceeds the supply
  writeU64("supply", supply);
  writeU64("bal:" + name, balance);
  emit("mint:" + name + ":" + amt.toString());
  return <i64>balance;
}

export function balance_of(who: i32): i64 {
  return <i64>readU64("bal:" + account(who));
}

export function total_supply(): i64 {
  return <i64>readU64("supply");
}

export function transfer(from: i32, to: i32, amount: i64): i32 {
  const fromName = account(from);
  const toName = account(to);
  const amt = <u64>amount;
  const fromBalance = readU64("bal:" + fromName);
  const toBalance = readU64("bal:" + toName);
  assert(fromBalance >= amt, "insufficient funds"); // before writing anything
  // PLANTED BUG: toBalance was read before the debit, so a transfer to oneself overwrites the
  // debit and creates amt tokens (token.ts corrects toBalance when from == to).
  writeU64("bal:" + fromName, fromBalance - amt);
  writeU64("bal:" + toName, toBalance + amt); // cannot wrap: both are <= the supply
  emit("transfer:" + fromName + "->" + toName + ":" + amt.toString());
  return 1;
}
