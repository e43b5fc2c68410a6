export { ModelsSection } from './models-section';
export * from './model';
