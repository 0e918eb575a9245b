;; loop.wat: misbehaving code, for testing that SuperVM contains it.
;;
;; Each export misbehaves in one way that the runtime must contain without harm to the host:
;; endless work, endless recursion, a huge memory request, a wild pointer.
;;
;; Exports
;;   spin()                  loops forever: stopped by running out of fuel, or by Ctrl-C in the REPL
;;   recurse(n: i32) -> i32  calls itself with n + 1 without end: a call-stack overflow trap
;;   grow() -> i32           memory.grow by 65535 pages (all 4 GiB a 32-bit memory can address):
;;                           a memory bomb. Returns memory.grow's result, -1 when refused
;;                           (the limit max_memory_pages refuses it long before the 4 GiB).
;;   grow_by(pages: i32) -> i32
;;                           memory.grow by `pages`; returns the old size in pages or -1.
;;                           The module starts with 1 page, so with max_memory_pages = 256
;;                           grow_by(255) succeeds and grow_by(256) returns -1.
;;   bad_pointer() -> i32    calls storage_set with the key pointer 0xFFFFFF9C, far outside the
;;                           64 KiB memory: the host must trap with a message naming storage_set
;;                           and its arguments, never read out of bounds or clip silently.
;;   memory                  the linear memory (1 page, no declared maximum)
;;
;; Storage keys: none is ever written (bad_pointer's write fails before storing anything).
(module
  (import "storage_api" "storage_set"
    (func $storage_set (param i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  (data (i32.const 0) "value")

  (func (export "spin")
    (loop $forever
      (br $forever)))

  ;; The addition after the call keeps it from being a tail call: each level keeps its frame.
  (func $recurse (export "recurse") (param $n i32) (result i32)
    (i32.add
      (call $recurse (i32.add (local.get $n) (i32.const 1)))
      (i32.const 1)))

  (func (export "grow") (result i32)
    (memory.grow (i32.const 65535)))

  (func (export "grow_by") (param $pages i32) (result i32)
    (memory.grow (local.get $pages)))

  (func (export "bad_pointer") (result i32)
    (call $storage_set
      (i32.const 0xFFFFFF9C) (i32.const 8)   ;; key: a wild pointer (-100 as a signed i32)
      (i32.const 0) (i32.const 5)))          ;; value: "value", a valid range
)
