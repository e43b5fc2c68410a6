export {
  ExperimentsSection,
  IExperimentsSectionProps
} from './experiments-section';
export * from './model';
