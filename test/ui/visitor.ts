/** A minimal browser for in-process page tests: keeps cookies, reads a page's CSRF field, posts forms. */
import type { Send } from "./push.ts";

export class Visitor {
  readonly cookies = new Map<string, string>();
  private readonly send: Send;

  constructor(send: Send) {
    this.send = send;
  }

  async get(path: string): Promise<{ status: number; html: string; res: Response }> {
    const res = await this.send(path, { headers: this.headers() });
    this.keep(res);
    return { status: res.status, html: await res.text(), res };
  }

  async post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; html: string; res: Response }> {
    const res = await this.send(path, {
      method: "POST",
      headers: { ...this.headers(), "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields).toString(),
    });
    this.keep(res);
    return { status: res.status, html: await res.text(), res };
  }

  /** The CSRF token a page's forms carry. */
  async csrf(path = "/"): Promise<string> {
    const { html } = await this.get(path);
    const match = /name="csrf" value="([^"]+)"/.exec(html);
    if (!match) throw new Error(`${path} has no form with a CSRF token`);
    return match[1]!;
  }

  async signIn(username: string, password: string): Promise<Response> {
    const csrf = await this.csrf("/ui/sign-in");
    return (await this.post("/ui/sign-in", { csrf, username, password })).res;
  }

  private headers(): Record<string, string> {
    return this.cookies.size > 0 ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ") } : {};
  }

  private keep(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      const name = pair!.slice(0, at).trim();
      const value = pair!.slice(at + 1).trim();
      if (value === "" || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}
