/**
 * The Prometheus text exposition format (version 0.0.4): one HELP and one TYPE line per metric
 * family, then its samples. Kept to what the metrics endpoint needs: gauges and histograms.
 */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Record<string, string>;
export type Sample = { labels: Labels; value: number };
export type HistogramSeries = {
  labels: Labels;
  /** Cumulative counts for each upper bound of `bounds`, in order (observations <= bound). */
  buckets: number[];
  count: number;
  sum: number;
};

const escapeLabel = (value: string) => value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
const escapeHelp = (value: string) => value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(",")}}`;
}

function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

export class Exposition {
  private readonly lines: string[] = [];

  gauge(name: string, help: string, samples: Sample[]): this {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} gauge`);
    for (const { labels, value } of samples) this.lines.push(`${name}${labelText(labels)} ${number(value)}`);
    return this;
  }

  histogram(name: string, help: string, bounds: readonly number[], series: HistogramSeries[]): this {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} histogram`);
    for (const { labels, buckets, count, sum } of series) {
      bounds.forEach((bound, i) => {
        this.lines.push(`${name}_bucket${labelText({ ...labels, le: number(bound) })} ${number(buckets[i] ?? 0)}`);
      });
      this.lines.push(`${name}_bucket${labelText({ ...labels, le: "+Inf" })} ${number(count)}`);
      this.lines.push(`${name}_sum${labelText(labels)} ${number(sum)}`);
      this.lines.push(`${name}_count${labelText(labels)} ${number(count)}`);
    }
    return this;
  }

  toString(): string {
    return `${this.lines.join("\n")}\n`;
  }
}
