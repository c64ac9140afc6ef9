/**
 * `ReadableStream.tee()` reads its source as fast as the faster branch and queues
 * everything for the slower one: a slow client would make a runtime hold a whole layer in
 * memory. Here the source is read at the pace of the slower branch (each holds at most one
 * chunk), and a branch that is cancelled stops counting, so the other goes on alone.
 */
export function pacedTee(source: ReadableStream<Uint8Array>): [ReadableStream<Uint8Array>, ReadableStream<Uint8Array>] {
  const reader = source.getReader();
  const controllers: ReadableStreamDefaultController<Uint8Array>[] = [];
  const gone = [false, false];
  let reading = false;
  let finished = false;

  const pump = async (): Promise<void> => {
    if (reading || finished) return;
    if (gone[0] && gone[1]) {
      finished = true;
      await reader.cancel().catch(() => {});
      return;
    }
    if (controllers.some((c, i) => !gone[i] && (c.desiredSize ?? 0) <= 0)) return;
    reading = true;
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await reader.read();
    } catch (error) {
      finished = true;
      controllers.forEach((c, i) => gone[i] || c.error(error));
      return;
    } finally {
      reading = false;
    }
    if (result.done) {
      finished = true;
      controllers.forEach((c, i) => gone[i] || c.close());
      return;
    }
    controllers.forEach((c, i) => gone[i] || c.enqueue(result.value));
    return pump();
  };

  const branch = (index: number) =>
    new ReadableStream<Uint8Array>(
      {
        start: (controller) => void (controllers[index] = controller),
        pull: () => pump(),
        cancel: () => {
          gone[index] = true;
          return pump();
        },
      },
      { highWaterMark: 1 },
    );
  return [branch(0), branch(1)];
}
