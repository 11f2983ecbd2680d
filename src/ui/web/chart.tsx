/** A small time-series chart as inline SVG (no chart library): one line, its latest value, its max. */
export function Chart({ label, points, format, max }: { label: string; points: Array<number | null>; format(n: number): string; max?: number }) {
  const W = 240;
  const H = 60;
  const vals = points.filter((p): p is number => p !== null);
  const top = Math.max(max ?? 0, ...vals, 1e-9);
  const step = points.length > 1 ? W / (points.length - 1) : W;
  let d = '';
  points.forEach((p, i) => {
    if (p === null) return;
    d += `${d ? 'L' : 'M'}${(i * step).toFixed(1)},${(H - (p / top) * (H - 4) - 2).toFixed(1)}`;
  });
  const last = vals.length ? vals[vals.length - 1]! : null;
  return (
    <figure class="chart">
      <figcaption>
        {label}: <strong>{last === null ? '–' : format(last)}</strong>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={`${label} over the last ${points.length} samples`}>
        <rect x="0" y="0" width={W} height={H} class="chart-bg" />
        {d && <path d={d} class="chart-line" />}
      </svg>
    </figure>
  );
}
