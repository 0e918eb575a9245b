;; add.wat: the smallest SuperVM contract (the original README's Demo 1).
;;
;; Exports
;;   add(a: i32, b: i32) -> i32    returns a + b (wrapping on overflow); add(7, 8) = 15
;;
;; It imports no host functions, so it needs no memory and touches no storage:
;; a pure function is a valid contract too.
(module
  (func $add (export "add") (param $a i32) (param $b i32) (result i32)
    local.get $a
    local.get $b
    i32.add)
)
