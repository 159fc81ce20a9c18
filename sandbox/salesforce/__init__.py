"""A local, wire-faithful Salesforce org over HTTPS: OAuth, REST, SOQL, Collections, Bulk API 2.0."""
