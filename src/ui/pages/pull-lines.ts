/** The copyable `docker pull` / `podman pull` lines for the registry's public address. */
import { h, type Html } from "../layout.ts";

/** `registry.example.com` or `127.0.0.1:5000`: publicUrl's host when set, else the request's. */
export function registryHost(requestUrl: string, publicUrl: string | undefined): { host: string; plainHttp: boolean } {
  const url = new URL(publicUrl ?? requestUrl);
  return { host: url.host, plainHttp: url.protocol === "http:" };
}

export function pullLines(address: { host: string; plainHttp: boolean }, repository: string, reference: string): Html {
  const separator = reference.includes(":") ? "@" : ":";
  const image = `${address.host}/${repository}${separator}${reference}`;
  // podman refuses plain HTTP unless told; docker allows 127.0.0.0/8 and configured insecure registries.
  const lines = [`docker pull ${image}`, `podman pull ${address.plainHttp ? "--tls-verify=false " : ""}${image}`];
  return h`${lines.map((line) => h`<div class="pull"><pre><code>${line}</code></pre><button type="button" class="copy" data-copy="${line}" aria-label="Copy: ${line}">Copy</button></div>`)}`;
}
