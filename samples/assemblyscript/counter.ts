// A SuperVM contract in AssemblyScript: a counter kept in storage, with events.
// Built with AssemblyScript 0.27.37 (`npm ci` here installs it), as SuperVM builds it on load:
//   npx asc counter.ts --outFile counter.wasm --sourceMap --debug --runtime stub --noColors

@external("storage_api", "storage_get")
declare function storage_get(key_ptr: usize, key_len: usize): i64;
@external("storage_api", "storage_read_value")
declare function storage_read_value(ptr: usize, len: usize): i32;
@external("storage_api", "storage_set")
declare function storage_set(key_ptr: usize, key_len: usize, value_ptr: usize, value_len: usize): i32;
@external("chain_api", "emit_event")
declare function emit_event(data_ptr: usize, data_len: usize): i32;
@external("chain_api", "block_number")
declare function block_number(): i64;

const KEY = "counter";

function keyBytes(): ArrayBuffer {
  return String.UTF8.encode(KEY);
}

function loadCounter(): i64 {
  const key = keyBytes();
  const len = storage_get(changetype<usize>(key), key.byteLength);
  if (len == 0) return 0;
  const buf = new ArrayBuffer(8);
  storage_read_value(changetype<usize>(buf), 8);
  return load<i64>(changetype<usize>(buf));
}

function save(value: i64): void {
  const key = keyBytes();
  const buf = new ArrayBuffer(8);
  store<i64>(changetype<usize>(buf), value);
  storage_set(changetype<usize>(key), key.byteLength, changetype<usize>(buf), 8);
}

function emit(text: string): void {
  const data = String.UTF8.encode(text);
  emit_event(changetype<usize>(data), data.byteLength);
}

export function increment(): i64 {
  const value = loadCounter() + 1;
  save(value);
  emit("counter=" + value.toString() + " at block " + block_number().toString());
  return value;
}

export function get(): i64 {
  return loadCounter();
}

// Decrementing below zero fails an assertion: AssemblyScript calls env.abort.
export function decrement(): i64 {
  const value = loadCounter();
  assert(value > 0, "counter is already zero");
  save(value - 1);
  return value - 1;
}
