/**
 * The pages' only style sheet and script, served from /ui/assets/ (the Content-Security-Policy
 * allows no inline code). The script is progressive enhancement: copy buttons. Every page
 * works without it.
 */

export const STYLE_SHEET = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0550ae; --panel: #f6f8fa; --danger: #a40e26; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9da7b3; --line: #30363d; --accent: #6cb6ff; --panel: #161b22; --danger: #ff7b72; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
header { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; padding: .75rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header .brand { font-weight: 700; text-decoration: none; color: var(--fg); }
header nav { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; margin-left: auto; }
header form { margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; }
.table { overflow-x: auto; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td { overflow-wrap: anywhere; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
pre { background: var(--panel); border: 1px solid var(--line); padding: .5rem .75rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.pull { display: flex; gap: .5rem; align-items: center; margin: .25rem 0; }
.pull pre { flex: 1; margin: 0; }
.copy { display: none; }
.js .copy { display: inline-block; }
button, .button { font: inherit; padding: .35rem .8rem; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block; }
button, .button, .nowrap { white-space: nowrap; }
td .copy { font-size: .8em; padding: .1rem .5rem; margin-left: .25rem; }
button.danger, .button.danger { color: var(--danger); border-color: var(--danger); }
label { display: block; margin: .75rem 0 .25rem; font-weight: 600; }
input[type=text], input[type=password], input[type=search] { font: inherit; padding: .4rem .6rem; border: 1px solid var(--muted); border-radius: 6px; width: 100%; max-width: 28rem; background: var(--bg); color: var(--fg); }
.search { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: 1rem; }
.search label { margin: 0; }
.pager { display: flex; gap: 1rem; margin: 1rem 0; }
.notice { border: 1px solid var(--line); background: var(--panel); padding: .5rem .75rem; border-radius: 6px; }
.error { border-color: var(--danger); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.skip { position: absolute; left: -10000px; }
.skip:focus { left: 1rem; top: .5rem; background: var(--bg); padding: .25rem .5rem; }
`;

export const SCRIPT = `
document.documentElement.classList.add("js");
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select and copy";
  }
  setTimeout(() => (button.textContent = "Copy"), 2000);
});
`;
