import React from 'react';

import { IComputeStatus } from '../api';
import { useTrans } from '../i18n';

function capacityText(c: IComputeStatus): string {
  const cap = c.target.capacity;
  const parts = [`${cap.cpus} CPU${cap.cpus === 1 ? '' : 's'}`];
  if (cap.memory_mb) {
    parts.push(`${(cap.memory_mb / 1024).toFixed(1)} GiB`);
  }
  const gpus = cap.gpu_ids ?? [];
  if (gpus.length) {
    parts.push(`GPU ${gpus.join(',')}`);
  }
  parts.push(`${cap.max_concurrent_jobs} at once`);
  return parts.join(' · ');
}

/**
 * One GPU's load as the target's agent last sampled it (`agent.gpus`).
 */
export interface IGpuLoad {
  index: string;
  text: string;
}

/**
 * `87% · 1.2/79.6 GiB` per GPU of the agent's last sample (none without one).
 */
export function gpuLoad(agent: IComputeStatus['agent']): IGpuLoad[] {
  const gpus = (agent as { gpus?: unknown } | null | undefined)?.gpus;
  if (!Array.isArray(gpus)) {
    return [];
  }
  const gib = (mb: number) => (mb / 1024).toFixed(1);
  return gpus.map(
    (g: {
      index: string;
      utilization_pct?: number | null;
      memory_used_mb?: number | null;
      memory_total_mb?: number | null;
    }) => {
      const parts = [];
      if (typeof g.utilization_pct === 'number') {
        parts.push(`${Math.round(g.utilization_pct)}%`);
      }
      if (typeof g.memory_used_mb === 'number') {
        parts.push(
          typeof g.memory_total_mb === 'number'
            ? `${gib(g.memory_used_mb)}/${gib(g.memory_total_mb)} GiB`
            : `${gib(g.memory_used_mb)} GiB`
        );
      }
      return { index: String(g.index), text: parts.join(' · ') || '?' };
    }
  );
}

/**
 * The Compute section: each target with its kind, status, capacity, running
 * and queued counts, the GPU ids in use and their last sampled load.
 */
export function ComputeSection(props: {
  items: IComputeStatus[];
  error: string;
}): JSX.Element {
  const { items, error } = props;
  const trans = useTrans();
  if (error) {
    return (
      <div className="mlbench-Section-error" role="alert">
        {error}
      </div>
    );
  }
  if (!items.length) {
    return (
      <div className="mlbench-Section-empty">
        {trans.__('No compute targets.')}
      </div>
    );
  }
  return (
    <ul
      className="mlbench-ComputeList"
      aria-label={trans.__('Compute targets')}
    >
      {items.map(c => {
        const inUse = c.gpu_ids_in_use ?? [];
        const status = c.agent ? 'running' : 'idle';
        return (
          <li
            key={c.target.name}
            className="mlbench-Compute"
            data-compute={c.target.name}
          >
            <div className="mlbench-Compute-head">
              <span className="mlbench-Compute-name">{c.target.name}</span>
              {c.target.kind !== c.target.name && (
                <span className="mlbench-Compute-kind">{c.target.kind}</span>
              )}
              <span
                className={`mlbench-Compute-status mlbench-mod-${status}`}
                title={
                  c.agent
                    ? trans.__('An agent is running jobs on this target')
                    : trans.__('No agent running: one starts on the next job')
                }
              >
                {c.agent ? trans.__('agent running') : trans.__('idle')}
              </span>
            </div>
            <div className="mlbench-Compute-detail">{capacityText(c)}</div>
            <div className="mlbench-Compute-detail">
              <span className="mlbench-Compute-running">
                {trans.__('%1 running', c.running ?? 0)}
              </span>
              {' · '}
              <span className="mlbench-Compute-queued">
                {trans.__('%1 queued', c.queued ?? 0)}
              </span>
              {inUse.length
                ? ` · ${trans.__('GPUs in use: %1', inUse.join(', '))}`
                : ''}
            </div>
            {gpuLoad(c.agent).map(g => (
              <div
                key={g.index}
                className="mlbench-Compute-detail mlbench-Compute-gpu"
                title={trans.__('Last sampled by the agent')}
              >
                {trans.__('GPU %1: %2', g.index, g.text)}
              </div>
            ))}
          </li>
        );
      })}
    </ul>
  );
}
