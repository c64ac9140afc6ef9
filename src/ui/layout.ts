/** The frame of every page: head, header with navigation and sign-in state, main. */
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { Visit } from "./session.ts";

export type Html = HtmlEscapedString;

/** hono/html's `html`, typed as the string it returns when no value is a Promise (none of ours is). */
export const h = (strings: TemplateStringsArray, ...values: unknown[]): Html => html(strings, ...values) as Html;

export function page(title: string, visit: Visit, body: Html): Html {
  const { viewer } = visit;
  return h`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title} · registry</title>
<link rel="stylesheet" href="/ui/assets/style.css">
<script src="/ui/assets/copy.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<a class="brand" href="/">Container registry</a>
<nav aria-label="Main">
<a href="/">Repositories</a>
${viewer.mayAdminister ? h`<a href="/ui/usage">Usage</a>` : ""}
${viewer.name !== null
  ? h`<span>Signed in as <strong>${viewer.name}</strong></span>
<form method="post" action="/ui/sign-out"><input type="hidden" name="csrf" value="${visit.csrf}"><button type="submit">Sign out</button></form>`
  : viewer.canSignIn
    ? h`<a href="/ui/sign-in">Sign in</a>`
    : ""}
</nav>
</header>
<main id="main">
${body}
</main>
</body>
</html>`;
}

/** A page's link to itself with other query parameters (paging, sorting, search). */
export function withQuery(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== "") query.set(key, value);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** Path segments of a repository name, each encoded (the name's `/` stay). */
export function repositoryPath(name: string): string {
  return `/ui/r/${name.split("/").map(encodeURIComponent).join("/")}`;
}

export function manifestPath(repository: string, digest: string): string {
  return `${repositoryPath(repository)}/-/manifest/${encodeURIComponent(digest)}`;
}
