"""Model monitoring: data drift, prediction drift, data quality and performance on schedules."""
