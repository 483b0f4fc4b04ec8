"""Backups with restic (DESIGN §17): the restic adapter and the backup plan of an installation."""
