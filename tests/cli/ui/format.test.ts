import {
  formatCosine,
  formatDuration,
  formatFinished,
  formatNumber,
  imageLabel,
  progressBar,
  sparkline,
} from '../../../src/cli/ui/format.js';

describe('formatDuration', () => {
  it('writes seconds, minutes and hours', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(12)).toBe('12s');
    expect(formatDuration(12.4)).toBe('12s');
    expect(formatDuration(59.6)).toBe('1m00s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3599.6)).toBe('1h00m');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(36000 + 59 * 60 + 59)).toBe('10h59m');
  });
  it('gives a dash for unknown durations', () => {
    expect(formatDuration(NaN)).toBe('—');
    expect(formatDuration(Infinity)).toBe('—');
    expect(formatDuration(-1)).toBe('—');
  });
});

describe('progressBar', () => {
  it('fills round-down fractions of the width', () => {
    expect(progressBar(0.5, 10)).toBe('█████░░░░░');
    expect(progressBar(0.3, 10)).toBe('███░░░░░░░');
    expect(progressBar(0.99, 10)).toBe('█████████░');
    expect(progressBar(0, 4)).toBe('░░░░');
    expect(progressBar(1, 4)).toBe('████');
  });
  it('clamps', () => {
    expect(progressBar(1.5, 4)).toBe('████');
    expect(progressBar(-1, 4)).toBe('░░░░');
    expect(progressBar(NaN, 3)).toBe('░░░');
    expect(progressBar(0.5, 0)).toBe('');
  });
});

describe('sparkline', () => {
  it('scales min..max onto the eight blocks', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8)).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([7, 0], 8)).toBe('█▁');
  });
  it('uses only the last `width` values, scaled among themselves', () => {
    // 4..7 → 0, 1/3, 2/3, 1 of 7 levels → 0, 2, 5, 7.
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 4)).toBe('▁▃▆█');
  });
  it('handles flat, empty and non-finite input', () => {
    expect(sparkline([3, 3, 3], 10)).toBe('▁▁▁');
    expect(sparkline([], 10)).toBe('');
    expect(sparkline([1, NaN, 3], 10)).toBe('▁ █');
    expect(sparkline([NaN], 10)).toBe(' ');
    expect(sparkline([1, 2], 0)).toBe('');
  });
});

describe('formatNumber', () => {
  it('keeps four significant digits', () => {
    expect(formatNumber(0.41234)).toBe('0.4123');
    expect(formatNumber(0.21)).toBe('0.2100');
    expect(formatNumber(1.2341)).toBe('1.234');
    expect(formatNumber(1234.6)).toBe('1235');
    expect(formatNumber(-0.5)).toBe('-0.5000');
    expect(formatNumber(0.05, 2)).toBe('0.050');
    expect(formatNumber(12.34, 3)).toBe('12.3');
  });
  it('uses an exponent for tiny and huge magnitudes', () => {
    expect(formatNumber(0.0001234)).toBe('1.234e-4');
    expect(formatNumber(12346)).toBe('1.235e4');
    expect(formatNumber(99999.9)).toBe('1.000e5');
    expect(formatNumber(0.001)).toBe('0.001000');
  });
  it('writes zero and non-finite values plainly', () => {
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(NaN)).toBe('nan');
    expect(formatNumber(Infinity)).toBe('inf');
    expect(formatNumber(-Infinity)).toBe('-inf');
  });
});

describe('labels', () => {
  it('formats cosines and finished images', () => {
    expect(formatCosine(0.8123)).toBe('0.812');
    expect(formatCosine(-0.0541)).toBe('-0.054');
    expect(formatCosine(NaN)).toBe('nan');
    expect(imageLabel(3, 0)).toBe('target 3 seed 0');
    expect(formatFinished(imageLabel(3, 0), 0.8123)).toBe('✓ target 3 seed 0  best cos 0.812');
  });
});
