export {
  ExperimentsSection,
  IExperimentsSectionProps
} from './experiments-section';
export * from './model';
export { ExperimentView } from './experiment-view';
