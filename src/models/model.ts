/**
 * The Models section's and model view's logic, free of React so it is
 * unit-tested directly: what a signature and a lineage say, which events
 * concern which model.
 */
import type { IJobEvent, IModelLineage, IModelVersion } from '../api';

/**
 * One column of a signature's inputs or outputs, as MLflow records it.
 */
export interface ISignatureColumn {
  name: string;
  type: string;
  required: boolean;
}

/**
 * The inputs or outputs of a version's signature (`[]` when it has none).
 * Tensor specs read `tensor float64[-1,4]`; unnamed columns `#0`, `#1`...
 */
export function signatureColumns(
  version: Pick<IModelVersion, 'signature'>,
  part: 'inputs' | 'outputs'
): ISignatureColumn[] {
  const raw = version.signature?.[part];
  if (!Array.isArray(raw)) {
    return [];
  }
  return raw.map((c: Record<string, unknown>, i: number) => {
    const spec = c['tensor-spec'] as
      { dtype?: string; shape?: unknown[] } | undefined;
    const type =
      c.type === 'tensor' && spec
        ? `tensor ${spec.dtype ?? ''}[${(spec.shape ?? []).join(',')}]`
        : String(c.type ?? '');
    return {
      name: typeof c.name === 'string' && c.name ? c.name : `#${i}`,
      type,
      required: c.required !== false
    };
  });
}

/**
 * `@champion=3 @candidate=4`, by alias name.
 */
export function aliasText(aliases: { [alias: string]: number }): string {
  return Object.entries(aliases)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([alias, version]) => `@${alias}=${version}`)
    .join(' ');
}

/**
 * The data asset name of a lineage input (`data:iris:3` -> `iris`).
 */
export function dataAssetName(ref: string): string {
  const bare = ref.startsWith('data:') ? ref.slice(5) : ref;
  const colon = bare.lastIndexOf(':');
  return colon > 0 ? bare.slice(0, colon) : bare;
}

/**
 * Whether a lineage says anything (a folder registered by hand has none).
 */
export function hasLineage(lineage: IModelLineage): boolean {
  return Boolean(
    lineage.job_id ||
    lineage.run_id ||
    lineage.environment ||
    (lineage.data_inputs ?? []).length
  );
}

/**
 * The model an event of the stream changed (`kind: "model"`), else null.
 */
export function changedModel(event: IJobEvent): string | null {
  if (event.kind !== 'model') {
    return null;
  }
  const name = (event.data as { model?: unknown } | undefined)?.model;
  return typeof name === 'string' ? name : null;
}

/**
 * An alias MLflow accepts (what the server checks, so the form says it
 * before a round trip).
 */
export function isValidAlias(alias: string): boolean {
  return (
    /^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(alias) &&
    alias.toLowerCase() !== 'latest' &&
    !/^v\d+$/.test(alias)
  );
}
