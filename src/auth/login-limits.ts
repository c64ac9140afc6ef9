/**
 * Failed logins, limited per client address and per name (issue 13, defect 7), counted in fixed
 * windows of `windowSeconds` in the shared AuthStateStore:
 * - an address with `perAddress` failures in the window may not try any name until it ends;
 * - a name with `perName` failures in the window may be tried only from addresses with no failure
 *   in it. Its real owner, at an address that has not failed, still gets in while others guess
 *   from elsewhere; a guesser spread over many addresses gets one guess per address per window.
 * The check runs before any password is hashed, so a flood of guesses costs one store read each.
 */
import type { AuthStateStore } from "./auth-state.ts";

export interface LoginLimitSettings {
  perAddress: number;
  perName: number;
  windowSeconds: number;
}

export class LoginLimits {
  readonly #store: AuthStateStore;
  readonly #settings: LoginLimitSettings;
  readonly #now: () => number;

  constructor(store: AuthStateStore, settings: LoginLimitSettings, now: () => number = Date.now) {
    this.#store = store;
    this.#settings = settings;
    this.#now = now;
  }

  /** Seconds the caller must wait before trying `name` from `address`; 0: it may try now. */
  async waitBeforeTrying(name: string, address: string | undefined): Promise<number> {
    const { window, wait } = this.#window();
    const [nameFailures = 0, addressFailures = 0] = await this.#store.failures(this.#keys(name, address), window);
    if (address !== undefined && addressFailures >= this.#settings.perAddress) return wait;
    if (nameFailures >= this.#settings.perName && (address === undefined || addressFailures > 0)) return wait;
    return 0;
  }

  async recordFailure(name: string, address: string | undefined): Promise<void> {
    const { window } = this.#window();
    await this.#store.recordFailure(this.#keys(name, address), window, window + this.#settings.windowSeconds * 1000);
  }

  #keys(name: string, address: string | undefined): string[] {
    const key = `name:${name.slice(0, 256)}`;
    return address === undefined ? [key] : [key, `address:${address}`];
  }

  #window(): { window: number; wait: number } {
    const length = this.#settings.windowSeconds * 1000;
    const now = this.#now();
    const window = now - (now % length);
    return { window, wait: Math.max(1, Math.ceil((window + length - now) / 1000)) };
  }
}
