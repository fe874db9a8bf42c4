"""PostHog's rules as functions of plain data: field validation (`drf_fields`), job_inputs and prefixes
(`config`), the create pipeline (`create`), schema PATCH (`schema_patch`) and simulated syncs (`syncs`).

No HTTP (they raise `ApiProblem`, which the app renders); storage and upstreams come in as arguments.
"""
