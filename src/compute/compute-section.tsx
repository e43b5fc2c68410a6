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
 * The Compute section: each target with its kind, status, capacity, running
 * and queued counts and the GPU ids in use.
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
          </li>
        );
      })}
    </ul>
  );
}
