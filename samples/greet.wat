;; greet.wat: the event example from the original SuperVM README, unchanged in behaviour.
;;
;; Exports
;;   greet() -> i32     emits the event "Hello, World!" and returns 42
;;   memory             the linear memory emit_event reads the event bytes from
;;
;; Host functions used: chain_api.emit_event. No storage.
(module
  ;; emit_event(data_ptr, data_len) -> 0: appends memory[data_ptr .. data_ptr+data_len)
  ;; to this call's events. The host reads the bytes from the exported "memory".
  (import "chain_api" "emit_event" (func $emit_event (param i32 i32) (result i32)))

  (memory (export "memory") 1)

  ;; The event text lives at address 0; it is 13 bytes long.
  (data (i32.const 0) "Hello, World!")

  (func (export "greet") (result i32)
    i32.const 0     ;; data_ptr
    i32.const 13    ;; data_len
    call $emit_event
    drop            ;; emit_event always returns 0
    i32.const 42)
)
