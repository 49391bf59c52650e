"""The reference plugin: every feature a Jupiter plugin can use, in one small package."""
