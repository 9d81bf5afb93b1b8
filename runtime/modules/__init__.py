"""The module manager: upload checks, install/upgrade/rollback, instances, instance logs."""
