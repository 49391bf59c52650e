"""Persistent state of the plugin host, one module per domain.

The database models what is installed (globally) and what each project enables; the
``<project>.jupiter.yaml`` file mirrors the per-project part (see ``projects``). Django finds
every model through this face.
"""

from plugins_app.models.access import (
    ROLE_RANK,
    ApiToken,
    ProjectMembership,
    ProjectRole,
    TokenScope,
)
from plugins_app.models.audit import AuditAction, AuditEvent
from plugins_app.models.deployment import ChangeEvent, Lease, SafeMode
from plugins_app.models.history import Finding, HistoryEntry, HistoryKind, ProjectGraph
from plugins_app.models.jobs import FINAL_JOB_STATES, Job, JobEventRecord, JobState
from plugins_app.models.metrics import MetricPoint, MetricSample
from plugins_app.models.notifications import Notification, NotificationLevel
from plugins_app.models.plugins import (
    InstalledPlugin,
    PluginConfig,
    PluginDebugMode,
    PluginKind,
    PluginRegistration,
    PluginReloadRequest,
    PluginStatus,
    RetainedPluginConfig,
    StatusSource,
    TrustLevel,
)
from plugins_app.models.processes import PluginProcessEvent, ProcessEventKind
from plugins_app.models.projects import Project, ProjectPlugin
from plugins_app.models.trust import KeyPurpose, MeetingPlan, MeetingPlanStatus, TrustedKey

__all__ = [
    "FINAL_JOB_STATES",
    "ROLE_RANK",
    "ApiToken",
    "AuditAction",
    "AuditEvent",
    "ChangeEvent",
    "Finding",
    "HistoryEntry",
    "HistoryKind",
    "InstalledPlugin",
    "Job",
    "JobEventRecord",
    "JobState",
    "KeyPurpose",
    "Lease",
    "MeetingPlan",
    "MeetingPlanStatus",
    "MetricPoint",
    "MetricSample",
    "Notification",
    "NotificationLevel",
    "PluginConfig",
    "PluginDebugMode",
    "PluginKind",
    "PluginProcessEvent",
    "PluginRegistration",
    "PluginReloadRequest",
    "PluginStatus",
    "ProcessEventKind",
    "Project",
    "ProjectGraph",
    "ProjectMembership",
    "ProjectPlugin",
    "ProjectRole",
    "RetainedPluginConfig",
    "SafeMode",
    "StatusSource",
    "TokenScope",
    "TrustLevel",
    "TrustedKey",
]
