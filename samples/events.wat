;; events.wat: storage + events + chain context in one call (the original node-core Demo 2).
;;
;; Exports
;;   run() -> i64               the demo itself:
;;                                1. stores the block number under the key "last_block"
;;                                   (8 bytes, little-endian i64),
;;                                2. emits the event "UserAction", then "BlockProcessed",
;;                                3. returns timestamp + block_number.
;;                              With block 12345 and timestamp 1704067200 it returns 1704079545
;;                              and emits exactly ["UserAction", "BlockProcessed"].
;;   events_count() -> i32      emits the same two events, then returns chain_api.events_len
;;                              (so 2): events_len counts the events of the current call only.
;;   echo_first_event() -> i32  emits the two events, reads event 0 back into memory with
;;                              chain_api.read_event, emits that copy again as a third event
;;                              ("UserAction"), and returns the number of bytes read_event wrote (10).
;;   memory                     the linear memory the host functions read and write
;;
;; Storage keys: "last_block" (written by run only).
;;
;; Memory layout
;;   0x000  "last_block"       storage key, 10 bytes
;;   0x010  "UserAction"       event, 10 bytes
;;   0x020  "BlockProcessed"   event, 14 bytes
;;   0x040  8-byte scratch for the stored value
;;   0x100  64-byte buffer read_event copies into
(module
  (import "storage_api" "storage_set"
    (func $storage_set (param i32 i32 i32 i32) (result i32)))
  (import "chain_api" "block_number" (func $block_number (result i64)))
  (import "chain_api" "timestamp" (func $timestamp (result i64)))
  (import "chain_api" "emit_event" (func $emit_event (param i32 i32) (result i32)))
  (import "chain_api" "events_len" (func $events_len (result i32)))
  (import "chain_api" "read_event" (func $read_event (param i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  (data (i32.const 0x000) "last_block")
  (data (i32.const 0x010) "UserAction")
  (data (i32.const 0x020) "BlockProcessed")

  (global $VALUE i32 (i32.const 0x040))
  (global $EVENT_BUF i32 (i32.const 0x100))
  (global $EVENT_BUF_LEN i32 (i32.const 64))

  ;; The two events of the demo, in order. The host keeps them in emission order;
  ;; they become visible to the caller only if the call returns normally.
  (func $emit_demo_events
    (drop (call $emit_event (i32.const 0x010) (i32.const 10)))    ;; "UserAction"
    (drop (call $emit_event (i32.const 0x020) (i32.const 14))))   ;; "BlockProcessed"

  (func (export "run") (result i64)
    (local $block i64)
    (local.set $block (call $block_number))

    ;; Storage values are plain bytes: encode the i64 as 8 little-endian bytes
    ;; (i64.store is little-endian by definition) and store them under "last_block".
    (i64.store (global.get $VALUE) (local.get $block))
    (drop (call $storage_set
      (i32.const 0x000) (i32.const 10)       ;; key "last_block"
      (global.get $VALUE) (i32.const 8)))    ;; value: 8 bytes

    (call $emit_demo_events)

    (i64.add (call $timestamp) (local.get $block)))

  (func (export "events_count") (result i32)
    (call $emit_demo_events)
    (call $events_len))

  (func (export "echo_first_event") (result i32)
    (local $written i32)
    (call $emit_demo_events)
    ;; read_event(index, ptr, len) copies min(len, event length) bytes and returns that count.
    ;; An index out of range traps, so a contract checks it against events_len first.
    (if (i32.eqz (call $events_len)) (then (unreachable)))
    (local.set $written
      (call $read_event (i32.const 0) (global.get $EVENT_BUF) (global.get $EVENT_BUF_LEN)))
    ;; Emit what was read: the event log now ends with a copy of its first entry.
    (drop (call $emit_event (global.get $EVENT_BUF) (local.get $written)))
    (local.get $written))
)
