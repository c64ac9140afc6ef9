import type { EdgeCache } from "../../ports/edge-cache.ts";

/**
 * The Workers Cache API (`caches.default`, the data center's own cache) as an EdgeCache.
 * It stores nothing on workers.dev hosts (Cloudflare's rule); use a custom domain.
 */
export class WorkersEdgeCache implements EdgeCache {
  readonly #cache: Cache;

  constructor(cache: Cache) {
    this.#cache = cache;
  }

  async match(key: string): Promise<Response | undefined> {
    return (await this.#cache.match(key)) ?? undefined;
  }

  async put(key: string, response: Response): Promise<void> {
    await this.#cache.put(key, response);
  }

  async delete(key: string): Promise<void> {
    await this.#cache.delete(key);
  }
}
