import type { IEndpointInfo } from '../api';
import { checkWeights, summarize } from '../endpoints/endpoint-view';
import { trafficText } from '../endpoints/endpoints-section';

function endpoint(
  metrics: Array<{ rps: number; p50: number | null } | null>
): IEndpointInfo {
  return {
    deployments: metrics.map((m, i) => ({
      name: `d${i}`,
      metrics: m
        ? { requests_per_s: m.rps, p50_ms: m.p50, requests: 1, errors: 0 }
        : null
    }))
  } as unknown as IEndpointInfo;
}

describe('checkWeights', () => {
  it('accepts whole percents summing to 100', () => {
    expect(checkWeights({ blue: '90', green: '10' })).toEqual({
      traffic: { blue: 90, green: 10 },
      problem: ''
    });
  });
  it('names a sum that is not 100', () => {
    const { traffic, problem } = checkWeights({ blue: '60', green: '10' });
    expect(traffic).toBeNull();
    expect(problem).toBe('the weights sum to 70, not 100');
  });
  it('names a weight that is not a whole percent', () => {
    for (const bad of ['', '-5', '2.5', '101', 'x']) {
      const { traffic, problem } = checkWeights({ blue: bad });
      expect(traffic).toBeNull();
      expect(problem).toBe('blue: a whole percent from 0 to 100');
    }
  });
});

describe('summarize', () => {
  it('adds throughput and weights p50 by each deployment rate', () => {
    const point = summarize(
      endpoint([{ rps: 3, p50: 10 }, { rps: 1, p50: 30 }, null])
    );
    expect(point.rps).toBe(4);
    expect(point.p50).toBeCloseTo(15);
  });
  it('has no p50 without traffic', () => {
    expect(summarize(endpoint([{ rps: 0, p50: null }]))).toEqual({
      rps: 0,
      p50: null
    });
  });
});

describe('trafficText', () => {
  it('lists weights in order', () => {
    expect(trafficText({ blue: 90, green: 10 })).toBe('blue 90% · green 10%');
  });
});
