import { gpuLoad } from '../compute/compute-section';

describe('gpuLoad', () => {
  it("reads the agent's last GPU sample", () => {
    expect(
      gpuLoad({
        pid: 1,
        gpus: [
          {
            index: '0',
            utilization_pct: 87.4,
            memory_used_mb: 1234,
            memory_total_mb: 81559
          },
          { index: '1', utilization_pct: 3, memory_used_mb: null },
          { index: '2' }
        ]
      })
    ).toEqual([
      { index: '0', text: '87% · 1.2/79.6 GiB' },
      { index: '1', text: '3%' },
      { index: '2', text: '?' }
    ]);
  });

  it('shows nothing without an agent or a sample', () => {
    expect(gpuLoad(null)).toEqual([]);
    expect(gpuLoad({ pid: 1 })).toEqual([]);
  });
});
