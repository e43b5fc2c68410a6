export { DataSection, IDataSectionProps } from './data-section';
export * from './model';
