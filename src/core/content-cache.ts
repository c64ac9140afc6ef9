/**
 * Recently read content-addressed bytes (manifests), kept in memory: content
 * by digest never changes, so a hit needs no storage read at all. Only the
 * bytes are cached; whether a repository may see them is still decided by
 * the metadata read before every use. Least recently used entries go first
 * once `maxBytes` is reached; entries above `maxEntryBytes` are not kept.
 */
export class ContentCache {
  readonly #entries = new Map<string, Uint8Array>();
  #bytes = 0;
  readonly #maxBytes: number;
  readonly #maxEntryBytes: number;

  constructor(maxBytes: number, maxEntryBytes: number) {
    this.#maxBytes = maxBytes;
    this.#maxEntryBytes = maxEntryBytes;
  }

  /** Whether `set` would keep bytes of this size. */
  fits(size: number): boolean {
    return size <= this.#maxEntryBytes && size <= this.#maxBytes;
  }

  get(key: string): Uint8Array | undefined {
    const bytes = this.#entries.get(key);
    if (bytes) {
      // Map order is insertion order: re-inserting marks the entry most recently used.
      this.#entries.delete(key);
      this.#entries.set(key, bytes);
    }
    return bytes;
  }

  set(key: string, bytes: Uint8Array): void {
    if (!this.fits(bytes.byteLength)) return;
    const previous = this.#entries.get(key);
    if (previous) {
      this.#entries.delete(key);
      this.#bytes -= previous.byteLength;
    }
    this.#entries.set(key, bytes);
    this.#bytes += bytes.byteLength;
    for (const [oldest, evicted] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= evicted.byteLength;
    }
  }
}
