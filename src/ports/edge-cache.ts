/**
 * A cache of whole HTTP answers at the edge location serving a request (Workers' Cache
 * API), for content addressed by digest. The HTTP layer decides what may be cached and
 * under which key; an adapter only stores and finds answers.
 */
export interface EdgeCache {
  /** The answer stored under `key` at this location, if any. */
  match(key: string): Promise<Response | undefined>;
  /** Stores `response` (consuming its body) under `key` for as long as its Cache-Control allows. */
  put(key: string, response: Response): Promise<void>;
  /** Removes the answer under `key` at this location. */
  delete(key: string): Promise<void>;
}
