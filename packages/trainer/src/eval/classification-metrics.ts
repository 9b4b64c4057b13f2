export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationMetrics {
  count: number;
  accuracy: number;
  perClass: Record<string, ClassScores>;
  micro: Omit<ClassScores, 'support'>;
  macro: Omit<ClassScores, 'support'>;
  weighted: Omit<ClassScores, 'support'>;
  /** confusion[t][p] counts samples of true class t predicted as p, in the order of `classes`. */
  confusion: number[][];
  classes: string[];
}

function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

function f1(precision: number, recall: number): number {
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

/**
 * Computes per-class precision, recall, F1 and support with micro, macro and weighted averages.
 * Macro and weighted averages run over the classes that occur among the true or predicted labels;
 * a ratio with a zero denominator counts as 0.
 */
export function classificationMetrics(truth: number[], predicted: number[], classes: string[]): ClassificationMetrics {
  if (truth.length !== predicted.length) {
    throw new Error(`classificationMetrics needs as many predictions as labels, got ${predicted.length} and ${truth.length}.`);
  }
  const k = classes.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  truth.forEach((t, i) => {
    const p = predicted[i] ?? -1;
    if (t < 0 || t >= k || p < 0 || p >= k) throw new Error(`Class index out of range [0, ${k}): label ${t}, prediction ${p}.`);
    confusion[t]![p]!++;
  });
  const perClass: Record<string, ClassScores> = {};
  let correct = 0;
  const present: ClassScores[] = [];
  for (let c = 0; c < k; c++) {
    const truePositive = confusion[c]![c]!;
    const support = confusion[c]!.reduce((sum, n) => sum + n, 0);
    const predictedCount = confusion.reduce((sum, row) => sum + row[c]!, 0);
    correct += truePositive;
    const precision = ratio(truePositive, predictedCount);
    const recall = ratio(truePositive, support);
    const scores = { precision, recall, f1: f1(precision, recall), support };
    perClass[classes[c]!] = scores;
    if (support > 0 || predictedCount > 0) present.push(scores);
  }
  const count = truth.length;
  const accuracy = ratio(correct, count);
  const mean = (key: 'precision' | 'recall' | 'f1'): number => ratio(present.reduce((sum, s) => sum + s[key], 0), present.length);
  const weightedMean = (key: 'precision' | 'recall' | 'f1'): number => ratio(present.reduce((sum, s) => sum + s[key] * s.support, 0), count);
  return {
    count,
    accuracy,
    perClass,
    // With one label per sample, micro precision, recall and F1 all equal the accuracy.
    micro: { precision: accuracy, recall: accuracy, f1: accuracy },
    macro: { precision: mean('precision'), recall: mean('recall'), f1: mean('f1') },
    weighted: { precision: weightedMean('precision'), recall: weightedMean('recall'), f1: weightedMean('f1') },
    confusion,
    classes,
  };
}

/**
 * Computes the area under the ROC curve as the Mann-Whitney U statistic, with tied scores
 * counted as half. Returns null when the labels hold only one class.
 */
export function rocAuc(labels: number[], scores: number[]): number | null {
  const order = scores.map((score, index) => ({ score, label: labels[index] ?? 0 })).sort((a, b) => a.score - b.score);
  let positives = 0;
  let rankSum = 0;
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]!.score === order[i]!.score) j++;
    const averageRank = (i + j + 2) / 2;
    for (let m = i; m <= j; m++) {
      if (order[m]!.label === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
