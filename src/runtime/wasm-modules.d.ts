/** A `.wasm` import is a module compiled at deploy time (wrangler's CompiledWasm rule); Workers cannot compile WASM at run time. */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
