/**
 * Reads a secret for the operator scripts: from a terminal without echoing it (twice, to catch
 * a typo), or from piped stdin as given (one trailing newline dropped).
 */
export async function readSecret(prompt: string, confirm: boolean): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
  }
  const first = await readHidden(prompt);
  if (confirm && (await readHidden("again, to confirm: ")) !== first) {
    console.error("the two entries differ: nothing printed; run it again");
    process.exit(2);
  }
  return first;
}

/** One line from the terminal in raw mode, so that nothing typed is shown; Ctrl-C and Ctrl-D abort. */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Raw mode before the prompt: whatever is typed once the prompt shows is never echoed.
  stdin.setRawMode(true);
  stdin.resume();
  process.stderr.write(prompt);
  return new Promise((resolve) => {
    let typed = "";
    const finish = (aborted: boolean) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (aborted) process.exit(130);
      resolve(typed);
    };
    const onData = (data: Buffer) => {
      for (const char of data.toString("utf8")) {
        if (char === "\r" || char === "\n") return finish(false);
        if (char === "\u0003" || char === "\u0004") return finish(true);
        if (char === "\u007f" || char === "\b") typed = typed.slice(0, -1);
        else if (char >= " ") typed += char;
      }
    };
    stdin.on("data", onData);
  });
}
