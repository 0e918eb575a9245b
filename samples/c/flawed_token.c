// flawed_token.c: token.c with a planted bug (a transfer to oneself creates tokens), for the
// contract-testing examples; everything else is as in token.c.
//
// Same exports, storage keys, events and traps as token.wat:
//   mint(to: i32, amount: i64) -> i64         creates amount tokens for `to`; its new balance
//   balance_of(who: i32) -> i64               the account's balance (0 if it never held tokens)
//   transfer(from: i32, to: i32, amount: i64) -> i32   moves amount; returns 1
//   total_supply() -> i64                     the sum of all minted tokens
// Accounts are ids 0 = alice, 1 = bob, 2 = carol; storage keys "bal:<name>" and "supply" hold
// 8-byte little-endian u64s; events are "mint:<to>:<amount>" and "transfer:<from>-><to>:<amount>".
// An unknown id, insufficient funds or a supply passing 2^64 - 1 trap (__builtin_trap, the wasm
// `unreachable`), and SuperVM rolls the call back.
//
// Built by SuperVM when loaded, or by `python -m runtime.toolchains samples/c/flawed_token.c`, which
// runs in this directory (OUT is a temporary directory; no C library is linked):
//   clang --target=wasm32-unknown-unknown -g -O0 -ffreestanding -nostdlib -fno-color-diagnostics
//         -fdebug-prefix-map="$PWD"=. -MD -MF OUT/flawed_token.d -c flawed_token.c -o OUT/flawed_token.o
//   wasm-ld --no-entry --export-dynamic -o OUT/flawed_token.wasm OUT/flawed_token.o

#include <stdint.h>

// ---- the host ABI (see ../README.md): imports named by module and function --------------------

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

IMPORT("storage_api", "storage_get") int64_t storage_get(const void *key, uint32_t key_len);
IMPORT("storage_api", "storage_read_value") int32_t storage_read_value(void *ptr, uint32_t len);
IMPORT("storage_api", "storage_set")
int32_t storage_set(const void *key, uint32_t key_len, const void *value, uint32_t value_len);
IMPORT("chain_api", "emit_event") int32_t emit_event(const void *data, uint32_t len);

// ---- accounts ---------------------------------------------------------------------------------

struct account {
    const char *key;   // "bal:<name>"; the name is the key after its 4-byte "bal:" prefix
    uint32_t key_len;
};

static const struct account ACCOUNTS[] = {
    {"bal:alice", 9},
    {"bal:bob", 7},
    {"bal:carol", 9},
};

static const char SUPPLY_KEY[] = "supply";

// The account with this id; traps on an unknown one. Unsigned, so a negative id is unknown too.
static const struct account *account(int32_t id) {
    if ((uint32_t)id >= sizeof ACCOUNTS / sizeof ACCOUNTS[0]) {
        __builtin_trap();
    }
    return &ACCOUNTS[id];
}

// ---- storage ----------------------------------------------------------------------------------

// The u64 stored under a key, 0 if absent. storage_get remembers the value it found, and
// storage_read_value copies it out (it would trap after a miss).
static uint64_t read_u64(const char *key, uint32_t key_len) {
    uint64_t value = 0;
    if (storage_get(key, key_len) != 0) {
        storage_read_value(&value, sizeof value);   // wasm is little-endian, as the keys' values
    }
    return value;
}

static void write_u64(const char *key, uint32_t key_len, uint64_t value) {
    storage_set(key, key_len, &value, sizeof value);
}

static uint64_t balance(const struct account *a) { return read_u64(a->key, a->key_len); }

static void set_balance(const struct account *a, uint64_t value) {
    write_u64(a->key, a->key_len, value);
}

// ---- building event text ----------------------------------------------------------------------

static char event[64];   // the longest event is well under 64 bytes

// Copies len bytes from src to dst; returns the address just past them.
static char *append(char *dst, const char *src, uint32_t len) {
    for (uint32_t i = 0; i < len; i++) {
        dst[i] = src[i];
    }
    return dst + len;
}

static char *append_name(char *dst, const struct account *a) {
    return append(dst, a->key + 4, a->key_len - 4);
}

// Writes value in decimal at dst; returns the address just past the digits.
static char *append_u64(char *dst, uint64_t value) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0) {
        *dst++ = digits[--n];
    }
    return dst;
}

static void emit_built(const char *end) { emit_event(event, (uint32_t)(end - event)); }

// ---- exports ----------------------------------------------------------------------------------

EXPORT("mint") int64_t mint(int32_t to, int64_t amount) {
    const struct account *a = account(to);
    uint64_t supply = read_u64(SUPPLY_KEY, 6) + (uint64_t)amount;
    if (supply < (uint64_t)amount) {
        __builtin_trap();   // the unsigned sum wrapped around: refuse
    }
    uint64_t new_balance = balance(a) + (uint64_t)amount;   // cannot wrap: balance <= supply
    write_u64(SUPPLY_KEY, 6, supply);
    set_balance(a, new_balance);
    char *p = append(event, "mint:", 5);
    p = append_name(p, a);
    p = append(p, ":", 1);
    p = append_u64(p, (uint64_t)amount);
    emit_built(p);
    return (int64_t)new_balance;
}

EXPORT("balance_of") int64_t balance_of(int32_t who) { return (int64_t)balance(account(who)); }

EXPORT("total_supply") int64_t total_supply(void) { return (int64_t)read_u64(SUPPLY_KEY, 6); }

EXPORT("transfer") int32_t transfer(int32_t from, int32_t to, int64_t amount) {
    const struct account *src = account(from);
    const struct account *dst = account(to);
    uint64_t from_balance = balance(src);
    uint64_t to_balance = balance(dst);
    if (from_balance < (uint64_t)amount) {
        __builtin_trap();   // insufficient funds: trap before writing anything
    }
    // PLANTED BUG: to_balance was read before the debit, so a transfer to oneself overwrites
    // the debit and creates amount tokens (token.c corrects to_balance when from == to).
    set_balance(src, from_balance - (uint64_t)amount);
    set_balance(dst, to_balance + (uint64_t)amount);   // cannot wrap: both are <= the supply
    char *p = append(event, "transfer:", 9);
    p = append_name(p, src);
    p = append(p, "->", 2);
    p = append_name(p, dst);
    p = append(p, ":", 1);
    p = append_u64(p, (uint64_t)amount);
    emit_built(p);
    return 1;
}
