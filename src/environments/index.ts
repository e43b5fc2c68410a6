export { EnvironmentsSection } from './environments-section';
export * from './model';
