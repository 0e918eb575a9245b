;; counter.wat: a storage read-modify-write, the pattern most contracts are built from.
;;
;; Exports
;;   increment() -> i64    adds 1 to the counter and returns the new value (1, 2, 3, ...)
;;   add(amount: i64) -> i64
;;                         adds amount (may be negative; wraps around like i64 arithmetic)
;;                         and returns the new value
;;   get() -> i64          the current value (0 if never set)
;;   reset()               deletes the key, so the counter reads as 0 again
;;   memory                the linear memory the host functions read and write
;;
;; Storage keys: "counter" = the value as 8 bytes, little-endian i64. Absent means 0.
;; Events: increment and add emit "counter=<new value in decimal>", e.g. "counter=3";
;;         reset emits "counter reset".
;;
;; Memory layout
;;   0x000  "counter"          storage key, 7 bytes
;;   0x010  8-byte value buffer
;;   0x020  "counter reset"    event, 13 bytes
;;   0x040  "counter="         event prefix, 8 bytes; the decimal digits are written right after it
(module
  (import "storage_api" "storage_get" (func $storage_get (param i32 i32) (result i64)))
  (import "storage_api" "storage_read_value" (func $storage_read_value (param i32 i32) (result i32)))
  (import "storage_api" "storage_set" (func $storage_set (param i32 i32 i32 i32) (result i32)))
  (import "storage_api" "storage_delete" (func $storage_delete (param i32 i32) (result i32)))
  (import "chain_api" "emit_event" (func $emit_event (param i32 i32) (result i32)))

  (memory (export "memory") 1)

  (data (i32.const 0x000) "counter")
  (data (i32.const 0x020) "counter reset")
  (data (i32.const 0x040) "counter=")

  (global $KEY i32 (i32.const 0x000))
  (global $KEY_LEN i32 (i32.const 7))
  (global $VALUE i32 (i32.const 0x010))
  (global $EVENT i32 (i32.const 0x040))
  (global $EVENT_PREFIX_LEN i32 (i32.const 8))

  ;; Reading is two host calls: storage_get looks the key up and returns the value's length
  ;; (0 when absent), then storage_read_value copies the value into memory. Calling
  ;; storage_read_value after a miss would trap, so only read when the length is non-zero.
  (func $load (result i64)
    (i64.store (global.get $VALUE) (i64.const 0))   ;; absent (or shorter) value reads as 0
    (if (i64.ne (call $storage_get (global.get $KEY) (global.get $KEY_LEN)) (i64.const 0))
      (then
        (drop (call $storage_read_value (global.get $VALUE) (i32.const 8)))))
    (i64.load (global.get $VALUE)))

  (func $store (param $value i64)
    (i64.store (global.get $VALUE) (local.get $value))
    (drop (call $storage_set
      (global.get $KEY) (global.get $KEY_LEN) (global.get $VALUE) (i32.const 8))))

  ;; Writes the decimal text of $value (signed) at $dst and returns how many bytes it wrote.
  ;; Digits are produced last-first, so count them first, then fill from the right.
  (func $write_i64_dec (param $value i64) (param $dst i32) (result i32)
    (local $len i32) (local $rest i64) (local $p i32)
    (if (i64.lt_s (local.get $value) (i64.const 0))
      (then
        (i32.store8 (local.get $dst) (i32.const 0x2D))     ;; '-'
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (local.set $len (i32.const 1))
        ;; 0 - value as unsigned is right even for the most negative i64.
        (local.set $value (i64.sub (i64.const 0) (local.get $value)))))
    ;; Count the digits (at least one, for 0).
    (local.set $rest (local.get $value))
    (local.set $p (local.get $dst))
    (loop $count
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $rest (i64.div_u (local.get $rest) (i64.const 10)))
      (br_if $count (i64.ne (local.get $rest) (i64.const 0))))
    (local.set $len (i32.add (local.get $len) (i32.sub (local.get $p) (local.get $dst))))
    ;; Fill from the right: $p starts one past the last digit.
    (loop $fill
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 0x30)                           ;; '0' + value % 10
          (i32.wrap_i64 (i64.rem_u (local.get $value) (i64.const 10)))))
      (local.set $value (i64.div_u (local.get $value) (i64.const 10)))
      (br_if $fill (i64.ne (local.get $value) (i64.const 0))))
    (local.get $len))

  ;; Emits "counter=<value>".
  (func $emit_value (param $value i64)
    (local $digits i32)
    (local.set $digits
      (call $write_i64_dec (local.get $value)
        (i32.add (global.get $EVENT) (global.get $EVENT_PREFIX_LEN))))
    (drop (call $emit_event
      (global.get $EVENT) (i32.add (global.get $EVENT_PREFIX_LEN) (local.get $digits)))))

  (func $add (export "add") (param $amount i64) (result i64)
    (local $new i64)
    (local.set $new (i64.add (call $load) (local.get $amount)))
    (call $store (local.get $new))
    (call $emit_value (local.get $new))
    (local.get $new))

  (func (export "increment") (result i64)
    (call $add (i64.const 1)))

  (func (export "get") (result i64)
    (call $load))

  (func (export "reset")
    (drop (call $storage_delete (global.get $KEY) (global.get $KEY_LEN)))
    (drop (call $emit_event (i32.const 0x020) (i32.const 13))))
)
