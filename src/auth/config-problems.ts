/** Small validators that collect every problem of a configuration instead of stopping at the first. */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export class Problems {
  readonly problems: string[] = [];

  /** Records a problem; returns undefined so validators can `return p.add(...)`. */
  add(problem: string): undefined {
    this.problems.push(problem);
    return undefined;
  }

  unknownKeys(v: Record<string, unknown>, known: readonly string[], at: string): void {
    for (const key of Object.keys(v)) {
      if (!known.includes(key)) this.add(`unknown setting "${at ? `${at}.` : ""}${key}" (known: ${known.join(", ")})`);
    }
  }

  object(v: unknown, at: string, known: readonly string[]): v is Record<string, unknown> {
    if (!isObject(v)) return this.add(`${at} must be an object`) ?? false;
    this.unknownKeys(v, known, at);
    return true;
  }

  text(v: unknown, at: string, required = false): string | undefined {
    if (v === undefined && !required) return undefined;
    return typeof v === "string" && v !== "" ? v : this.add(`${at} must be a non-empty string`);
  }

  name(v: unknown, at: string, grammar: RegExp): string | undefined {
    return typeof v === "string" && grammar.test(v) ? v : this.add(`${at} must be a name of letters, digits, ".", "_", "@" or "-" (no ":")`);
  }

  integer(v: unknown, at: string, min: number, max: number): number | undefined {
    if (v === undefined) return undefined;
    return Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : this.add(`${at} must be an integer from ${min} to ${max}`);
  }

  oneOf(v: unknown, at: string, allowed: readonly string[]): string | undefined {
    if (v === undefined) return undefined;
    return typeof v === "string" && allowed.includes(v) ? v : this.add(`${at} must be one of ${allowed.join(", ")}`);
  }

  /** An https URL; http only on loopback (local tests) unless `anyHttp`. */
  url(v: unknown, at: string, required = false, anyHttp = false): string | undefined {
    if (v === undefined && !required) return undefined;
    let url: URL | undefined;
    try {
      url = typeof v === "string" ? new URL(v) : undefined;
    } catch {
      url = undefined;
    }
    const ok = url && (url.protocol === "https:" || (url.protocol === "http:" && (anyHttp || LOOPBACK.has(url.hostname))));
    return ok ? (v as string) : this.add(`${at} must be an ${anyHttp ? "http(s)" : "https"} URL${anyHttp ? "" : " (http only for 127.0.0.1 / localhost)"}`);
  }

  list<T>(v: unknown, at: string, item: (value: unknown, at: string) => T | undefined): T[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) return this.add(`${at} must be an array`) ?? [];
    return v.flatMap((value, i) => {
      const parsed = item(value, `${at}[${i}]`);
      return parsed === undefined ? [] : [parsed];
    });
  }

  record<T>(v: unknown, at: string, item: (value: unknown, at: string) => T | undefined): Record<string, T> {
    if (v === undefined) return {};
    if (!isObject(v)) return this.add(`${at} must be an object keyed by name`) ?? {};
    const out: Record<string, T> = {};
    for (const [key, value] of Object.entries(v)) {
      const parsed = item(value, `${at}.${key}`);
      // defineProperty: a key "__proto__" (JSON.parse makes it an own key) must stay a key, and then fail the name check.
      if (parsed !== undefined) Object.defineProperty(out, key, { value: parsed, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}
