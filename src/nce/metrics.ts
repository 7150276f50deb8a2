/**
 * Area under the ROC curve of `scores` for binary `labels` (1 = positive), ties counted half
 * (the Mann-Whitney U statistic). NaN when one class is absent.
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new RangeError(`auroc: ${n} scores but ${labels.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] === 1) {
        pos++;
        rankSum += midRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * Area under the precision-recall curve (average precision) of `scores` for `labels`
 * (1 = positive; higher score = more positive). NaN without positives.
 */
export function auprc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new RangeError(`auprc: ${n} scores but ${labels.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let totalPos = 0;
  for (let i = 0; i < n; i++) totalPos += labels[i] === 1 ? 1 : 0;
  if (totalPos === 0) return NaN;
  let tp = 0;
  let ap = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    let tpGroup = 0;
    for (let k = i; k <= j; k++) tpGroup += labels[order[k]] === 1 ? 1 : 0;
    tp += tpGroup;
    ap += (tpGroup / totalPos) * (tp / (j + 1));
    i = j + 1;
  }
  // The sum of shares of 1 can round to a hair above it.
  return Math.min(1, ap);
}
