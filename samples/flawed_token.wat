;; flawed_token.wat: token.wat with a planted bug, for the contract-testing examples.
;;
;; Everything is as in token.wat (exports, storage keys, events, traps) except one thing: a
;; transfer from an account to itself adds the amount to its balance instead of leaving it as it
;; was, so total_supply no longer equals the sum of the balances. `:fuzz transfer --expect ok ==
;; 0 or delta == 0` and the invariant campaign of samples/testing/test_flawed_token.py find it.
;;
;;
;; Accounts. Host functions take names as pointer + length into memory, which a REPL user
;; typing numbers cannot pass, so the account names are fixed in data segments and every
;; export takes a small account id instead:
;;
;;   id  name    storage key
;;   0   alice   "bal:alice"
;;   1   bob     "bal:bob"
;;   2   carol   "bal:carol"
;;
;; Any other id (including a negative one) traps with `unreachable`.
;;
;; Exports (amounts and balances are unsigned 64-bit values passed as i64)
;;   mint(to: i32, amount: i64) -> i64       creates amount tokens for `to`; returns its new balance.
;;                                           Traps if the total supply would pass 2^64 - 1.
;;   balance_of(who: i32) -> i64             the account's balance (0 if it never held tokens)
;;   transfer(from: i32, to: i32, amount: i64) -> i32
;;                                           moves amount from `from` to `to`; returns 1.
;;                                           Insufficient funds trap with `unreachable`.
;;   total_supply() -> i64                   the sum of all minted tokens
;;   memory                                  the linear memory the host functions read and write
;;
;; Failing by trapping. A trap ends the call, and SuperVM then discards every storage write and
;; event the call made: the call is atomic. So a contract that finds a problem halfway can just
;; trap. This contract still checks funds before its first write, which is the habit to keep:
;; it does not rely on the rollback for correctness, and the trace shows no write at all.
;;
;; Storage keys
;;   "bal:<name>"   balance, 8 bytes little-endian u64; absent means 0
;;   "supply"       total supply, 8 bytes little-endian u64; absent means 0
;;
;; Events (ASCII text, amounts in decimal)
;;   "mint:<to>:<amount>"            e.g. "mint:alice:100"
;;   "transfer:<from>-><to>:<amount>"  e.g. "transfer:alice->bob:25"
;;
;; Memory layout
;;   0x000  "supply"                storage key, 6 bytes
;;   0x010  account table: 3 records of 16 bytes, record = [key length: u8][key "bal:<name>"]
;;   0x040  "transfer:"  0x050 "mint:"  0x058 "->"  0x05C ":"   event text pieces
;;   0x100  8-byte value buffer
;;   0x200  event buffer (the longest event is well under 64 bytes)
(module
  (import "storage_api" "storage_get" (func $storage_get (param i32 i32) (result i64)))
  (import "storage_api" "storage_read_value" (func $storage_read_value (param i32 i32) (result i32)))
  (import "storage_api" "storage_set" (func $storage_set (param i32 i32 i32 i32) (result i32)))
  (import "chain_api" "emit_event" (func $emit_event (param i32 i32) (result i32)))

  (memory (export "memory") 1)

  (data (i32.const 0x000) "supply")
  (data (i32.const 0x010) "\09bal:alice")   ;; id 0
  (data (i32.const 0x020) "\07bal:bob")     ;; id 1
  (data (i32.const 0x030) "\09bal:carol")   ;; id 2
  (data (i32.const 0x040) "transfer:")
  (data (i32.const 0x050) "mint:")
  (data (i32.const 0x058) "->")
  (data (i32.const 0x05C) ":")

  (global $SUPPLY_KEY i32 (i32.const 0x000))
  (global $SUPPLY_KEY_LEN i32 (i32.const 6))
  (global $ACCOUNTS i32 (i32.const 0x010))
  (global $ACCOUNT_COUNT i32 (i32.const 3))
  (global $VALUE i32 (i32.const 0x100))
  (global $EVENT i32 (i32.const 0x200))

  ;; ---- accounts ----------------------------------------------------------------------

  ;; The address of account $id's record; traps on an unknown id. Comparing unsigned
  ;; rejects negative ids as well.
  (func $account (param $id i32) (result i32)
    (if (i32.ge_u (local.get $id) (global.get $ACCOUNT_COUNT)) (then (unreachable)))
    (i32.add (global.get $ACCOUNTS) (i32.shl (local.get $id) (i32.const 4))))

  (func $key_ptr (param $record i32) (result i32)
    (i32.add (local.get $record) (i32.const 1)))

  (func $key_len (param $record i32) (result i32)
    (i32.load8_u (local.get $record)))

  ;; The name is the key without its 4-byte "bal:" prefix.
  (func $name_ptr (param $record i32) (result i32)
    (i32.add (local.get $record) (i32.const 5)))

  (func $name_len (param $record i32) (result i32)
    (i32.sub (i32.load8_u (local.get $record)) (i32.const 4)))

  ;; ---- storage -----------------------------------------------------------------------

  ;; The u64 stored under a key, 0 if absent. storage_get returns the value's length and
  ;; remembers the value; storage_read_value copies it out (and would trap after a miss).
  (func $read_u64 (param $key i32) (param $key_len i32) (result i64)
    (i64.store (global.get $VALUE) (i64.const 0))
    (if (i64.ne (call $storage_get (local.get $key) (local.get $key_len)) (i64.const 0))
      (then (drop (call $storage_read_value (global.get $VALUE) (i32.const 8)))))
    (i64.load (global.get $VALUE)))

  (func $write_u64 (param $key i32) (param $key_len i32) (param $value i64)
    (i64.store (global.get $VALUE) (local.get $value))
    (drop (call $storage_set
      (local.get $key) (local.get $key_len) (global.get $VALUE) (i32.const 8))))

  (func $balance (param $record i32) (result i64)
    (call $read_u64 (call $key_ptr (local.get $record)) (call $key_len (local.get $record))))

  (func $set_balance (param $record i32) (param $value i64)
    (call $write_u64
      (call $key_ptr (local.get $record)) (call $key_len (local.get $record)) (local.get $value)))

  ;; ---- building event text -----------------------------------------------------------

  ;; Copies len bytes from src to dst; returns the address just past them.
  (func $append (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len))
    (i32.add (local.get $dst) (local.get $len)))

  ;; Writes $value (unsigned) in decimal at $dst; returns the address just past the digits.
  ;; Digits come out last-first, so count them, then fill from the right.
  (func $append_u64 (param $dst i32) (param $value i64) (result i32)
    (local $end i32) (local $rest i64) (local $p i32)
    (local.set $rest (local.get $value))
    (local.set $end (local.get $dst))
    (loop $count
      (local.set $end (i32.add (local.get $end) (i32.const 1)))
      (local.set $rest (i64.div_u (local.get $rest) (i64.const 10)))
      (br_if $count (i64.ne (local.get $rest) (i64.const 0))))
    (local.set $p (local.get $end))
    (loop $fill
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 0x30)
          (i32.wrap_i64 (i64.rem_u (local.get $value) (i64.const 10)))))
      (local.set $value (i64.div_u (local.get $value) (i64.const 10)))
      (br_if $fill (i64.ne (local.get $value) (i64.const 0))))
    (local.get $end))

  ;; Emits the bytes from $EVENT up to $end.
  (func $emit_built (param $end i32)
    (drop (call $emit_event
      (global.get $EVENT) (i32.sub (local.get $end) (global.get $EVENT)))))

  ;; ---- exports -----------------------------------------------------------------------

  (func (export "mint") (param $to i32) (param $amount i64) (result i64)
    (local $record i32) (local $supply i64) (local $balance i64) (local $p i32)
    (local.set $record (call $account (local.get $to)))
    (local.set $supply
      (i64.add (call $read_u64 (global.get $SUPPLY_KEY) (global.get $SUPPLY_KEY_LEN))
               (local.get $amount)))
    ;; An unsigned sum smaller than the amount wrapped around: refuse.
    (if (i64.lt_u (local.get $supply) (local.get $amount)) (then (unreachable)))
    ;; No balance can exceed the supply, so this addition cannot wrap.
    (local.set $balance (i64.add (call $balance (local.get $record)) (local.get $amount)))
    (call $write_u64 (global.get $SUPPLY_KEY) (global.get $SUPPLY_KEY_LEN) (local.get $supply))
    (call $set_balance (local.get $record) (local.get $balance))
    ;; "mint:<to>:<amount>"
    (local.set $p (call $append (global.get $EVENT) (i32.const 0x050) (i32.const 5)))
    (local.set $p (call $append (local.get $p)
      (call $name_ptr (local.get $record)) (call $name_len (local.get $record))))
    (local.set $p (call $append (local.get $p) (i32.const 0x05C) (i32.const 1)))
    (local.set $p (call $append_u64 (local.get $p) (local.get $amount)))
    (call $emit_built (local.get $p))
    (local.get $balance))

  (func (export "balance_of") (param $who i32) (result i64)
    (call $balance (call $account (local.get $who))))

  (func (export "total_supply") (result i64)
    (call $read_u64 (global.get $SUPPLY_KEY) (global.get $SUPPLY_KEY_LEN)))

  ;; Read both balances, check, write both, emit: several host calls in one atomic call.
  (func (export "transfer") (param $from i32) (param $to i32) (param $amount i64) (result i32)
    (local $from_record i32) (local $to_record i32)
    (local $from_balance i64) (local $to_balance i64) (local $p i32)
    (local.set $from_record (call $account (local.get $from)))
    (local.set $to_record (call $account (local.get $to)))
    (local.set $from_balance (call $balance (local.get $from_record)))
    (local.set $to_balance (call $balance (local.get $to_record)))

    ;; Insufficient funds: trap before writing anything.
    (if (i64.lt_u (local.get $from_balance) (local.get $amount)) (then (unreachable)))

    ;; PLANTED BUG: sending to yourself. $to_balance was read before the debit, so the second
    ;; write (to_balance + amount) overwrites the first: the sender gains amount out of nothing.
    ;; token.wat corrects $to_balance when $from == $to; this contract does not.
    ;; Cannot wrap: the two balances together never exceed the total supply.
    (call $set_balance (local.get $from_record)
      (i64.sub (local.get $from_balance) (local.get $amount)))
    (call $set_balance (local.get $to_record)
      (i64.add (local.get $to_balance) (local.get $amount)))

    ;; "transfer:<from>-><to>:<amount>"
    (local.set $p (call $append (global.get $EVENT) (i32.const 0x040) (i32.const 9)))
    (local.set $p (call $append (local.get $p)
      (call $name_ptr (local.get $from_record)) (call $name_len (local.get $from_record))))
    (local.set $p (call $append (local.get $p) (i32.const 0x058) (i32.const 2)))
    (local.set $p (call $append (local.get $p)
      (call $name_ptr (local.get $to_record)) (call $name_len (local.get $to_record))))
    (local.set $p (call $append (local.get $p) (i32.const 0x05C) (i32.const 1)))
    (local.set $p (call $append_u64 (local.get $p) (local.get $amount)))
    (call $emit_built (local.get $p))
    (i32.const 1))
)
