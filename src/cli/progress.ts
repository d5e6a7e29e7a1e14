/** A one-line progress bar on a terminal; silent when stderr is not a TTY (logs, CI, pipes). */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): (done: number, total: number) => void {
  if (!stream.isTTY) return () => {};
  const started = Date.now();
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    const width = 30;
    const frac = total ? done / total : 1;
    const filled = Math.round(frac * width);
    const rate = done / Math.max(0.001, (now - started) / 1000);
    stream.write(
      `\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${rate.toFixed(1)}/s` + (done === total ? '\n' : ''),
    );
  };
}
