export { SchedulesSection } from './schedules-section';
export * from './model';
