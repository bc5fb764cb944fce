/**
 * Line-by-line reading of a child process's output stream.
 *
 * @module
 */
import type { Readable } from "node:stream";

/** Call `onLine` with each complete line (without its newline) that `stream` writes. */
export function onLines(stream: Readable, onLine: (line: string) => void): void {
  let buffer = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      onLine(line);
    }
  });
}
