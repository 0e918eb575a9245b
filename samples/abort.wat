;; abort.wat: how an AssemblyScript contract fails, and proof that the failure is atomic.
;;
;; AssemblyScript compiles `assert(...)` and `throw new Error(...)` into a call to the import
;; env.abort(message, fileName, line, column), followed by `unreachable`. SuperVM provides
;; env.abort and ends the call with an *abort* error carrying the decoded message and position.
;;
;; Exports
;;   fail()          writes "status" = "started" to storage, then aborts with
;;                   message "insufficient balance", file "assembly/index.ts", line 42, column 7.
;;                   The call fails, so the write is rolled back: "status" stays absent.
;;   fail_no_file()  aborts with the same message and no file (file pointer 0, line 0, column 0).
;;   memory          the linear memory the host reads the strings from
;;
;; Storage keys: "status" (written by fail, and always rolled back).
;;
;; AssemblyScript strings. A string pointer points at UTF-16LE code units; the string's byte
;; length is the u32 just before it, at ptr - 4 (the last field of the object header that
;; AssemblyScript puts in front of every object; the runtime reads only that field).
;;
;; Memory layout
;;   0x000  "status"                          storage key, 6 bytes
;;   0x008  "started"                         storage value, 7 bytes
;;   0x0FC  u32 40, 0x100 "insufficient balance" in UTF-16LE (20 characters, 40 bytes)
;;   0x13C  u32 34, 0x140 "assembly/index.ts"    in UTF-16LE (17 characters, 34 bytes)
(module
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (import "storage_api" "storage_set"
    (func $storage_set (param i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  (data (i32.const 0x000) "status")
  (data (i32.const 0x008) "started")

  ;; Length prefix (40, little-endian u32), then the text; the string pointer is 0x100.
  (data (i32.const 0x0FC) "\28\00\00\00"
    "i\00n\00s\00u\00f\00f\00i\00c\00i\00e\00n\00t\00 \00b\00a\00l\00a\00n\00c\00e\00")
  ;; Length prefix (34), then the text; the string pointer is 0x140.
  (data (i32.const 0x13C) "\22\00\00\00"
    "a\00s\00s\00e\00m\00b\00l\00y\00/\00i\00n\00d\00e\00x\00.\00t\00s\00")

  (global $MESSAGE i32 (i32.const 0x100))
  (global $FILE i32 (i32.const 0x140))

  (func (export "fail")
    ;; A write that would be visible if calls were not atomic.
    (drop (call $storage_set (i32.const 0x000) (i32.const 6) (i32.const 0x008) (i32.const 7)))
    (call $abort (global.get $MESSAGE) (global.get $FILE) (i32.const 42) (i32.const 7))
    ;; As in AssemblyScript's output: abort does not return, and if a host's abort ever did,
    ;; this trap would still end the call here.
    (unreachable))

  (func (export "fail_no_file")
    (call $abort (global.get $MESSAGE) (i32.const 0) (i32.const 0) (i32.const 0))
    (unreachable))
)
