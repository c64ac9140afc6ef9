/** Reads the SHA-2 WebAssembly binaries hash-wasm embeds in its ESM bundle (dist/index.esm.js). */

export interface EmbeddedWasm {
  algorithm: "sha256" | "sha512";
  bytes: Uint8Array;
  /** hash-wasm's 4-byte state tag, hex: the start of every state its `save()` returns. */
  tag: string;
}

export function embeddedSha2(bundle: string): EmbeddedWasm[] {
  return (["sha256", "sha512"] as const).map((algorithm) => {
    // The bundle declares, per algorithm: var name$N = "<alg>"; var data$N = "<base64>"; var hash$N = "<hex>";
    const pattern = new RegExp(`var name(\\$\\w*) = "${algorithm}";\\s*var data\\1 = "([A-Za-z0-9+/=]+)";\\s*var hash\\1 = "([0-9a-f]{8})";`);
    const match = pattern.exec(bundle);
    if (!match) throw new Error(`hash-wasm's bundle no longer embeds ${algorithm} in the expected form; update scripts/hash-wasm-bundle.ts`);
    return { algorithm, bytes: new Uint8Array(Buffer.from(match[2]!, "base64")), tag: match[3]! };
  });
}
