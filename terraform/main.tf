# AgentoCore: one isolated deployment per Terraform workspace.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  prefix    = "agentocore-${terraform.workspace}"
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  tags = {
    project   = "agentocore"
    workspace = terraform.workspace
  }

  bucket_name   = "${local.prefix}-inbox-${local.account}"
  bucket_arn    = "arn:${local.partition}:s3:::${local.bucket_name}"
  table_arn     = module.memory_table.arn
  table_index   = "${module.memory_table.arn}/index/UserIdIndex"
  bedrock_model = startswith(var.model, "bedrock:") ? trimprefix(var.model, "bedrock:") : ""
  bedrock_base  = replace(local.bedrock_model, "/^(us|eu|apac|jp|au|ca|global)\\./", "")
  bedrock_arns = local.bedrock_model == "" ? [] : distinct([
    "arn:${local.partition}:bedrock:${local.region}:${local.account}:inference-profile/${local.bedrock_model}",
    "arn:${local.partition}:bedrock:*::foundation-model/${local.bedrock_base}",
  ])

  # Dead-letter queues, all drained by dlq_handler: one per EventBridge target, the bus's own,
  # one per asynchronously invoked function. dlq_handler's own failures go to the terminal queue.
  target_dlqs   = ["invocation", "invocation_priority", "actions_standard", "actions_approval", "approved", "action_progress", "schedule", "bus", "unrouted"]
  function_dlqs = ["fn_agent_executor", "fn_agent_executor_priority", "fn_standard_worker", "fn_approval_worker", "fn_outbox_relay"]
  # on-failure destinations of stream event source mappings (outbox.tf)
  stream_dlqs  = ["outbox"]
  drained_dlqs = concat(local.target_dlqs, local.function_dlqs, local.stream_dlqs)

  environment = merge({
    AGENTOCORE_TABLE_NAME          = module.memory_table.name
    AGENTOCORE_EVENT_BUS_NAME      = "${local.prefix}-bus"
    AGENTOCORE_MODEL               = var.model
    AGENTOCORE_APP                 = var.app
    AGENTOCORE_APPROVER_GROUP      = var.approver_group
    AGENTOCORE_APPROVALS_TOPIC_ARN = local.approvals_topic_arn
    AGENTOCORE_ALERTS_TOPIC_ARN    = local.alerts_topic_arn
    AGENTOCORE_SYNC_BUDGET_S       = tostring(var.sync_budget_s)
    AGENTOCORE_SECRETS             = local.tool_secret_map # names only (secrets.tf)
    POWERTOOLS_METRICS_NAMESPACE   = "AgentoCore"
    TIKTOKEN_CACHE_DIR             = "/tmp/tiktoken"

    # per UTC day budgets, per user and per deployment (0 = unlimited)
    AGENTOCORE_BUDGET_USER_DAILY_TOKENS   = tostring(var.daily_budgets.user_tokens)
    AGENTOCORE_BUDGET_USER_DAILY_USD      = tostring(var.daily_budgets.user_usd)
    AGENTOCORE_BUDGET_TENANT_DAILY_TOKENS = tostring(var.daily_budgets.tenant_tokens)
    AGENTOCORE_BUDGET_TENANT_DAILY_USD    = tostring(var.daily_budgets.tenant_usd)
    AGENTOCORE_BUDGET_TENANT_SHARDS       = tostring(var.daily_budgets.tenant_shards)
    AGENTOCORE_BUDGET_UNPRICED            = var.budget_unpriced
    AGENTOCORE_TRUSTED_USER_TRIGGERS      = join(",", var.trusted_user_triggers)
    # the SSM parameter naming the WebSocket API's management endpoint: stored run events are
    # pushed to live sockets
    AGENTOCORE_WS_ENDPOINT_PARAMETER = local.ws_endpoint_parameter
  }, var.extra_environment)
  # variables of one function only
  function_environment = {
    ws_authorizer = {
      AGENTOCORE_JWT_ISSUER   = var.jwt_issuer
      AGENTOCORE_JWT_AUDIENCE = join(",", var.jwt_audience)
    }
  }

  ws_endpoint_parameter = "/${local.prefix}/ws-endpoint"
  bus_arn               = "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/${local.prefix}-bus"
  # Built from names (as the alerts module names the topics) so that the functions' environment
  # is known at plan time: reviewers and the plan-based policies see every variable.
  alerts_topic_arn    = "arn:${local.partition}:sns:${local.region}:${local.account}:${local.prefix}-alerts"
  approvals_topic_arn = "arn:${local.partition}:sns:${local.region}:${local.account}:${local.prefix}-approvals"

  # Who may touch which items of the single table: dynamodb:LeadingKeys (the partition keys of
  # a request, every item of a transaction included) must all match the function's prefixes
  # (ForAllValues), and a request must carry some (Null false: a Scan carries none). Writes are
  # PutItem/UpdateItem/ConditionCheckItem (TransactWriteItems is authorized per item); no
  # function may DeleteItem or Scan. Powertools idempotency records, one partition each:
  # idempotency#<service>[-x]#<hash> (shared/agentocore/idempotency.py).
  app_items = [for prefix in try(local.action_catalog.items, []) : "${prefix}*"]
  table_keys = {
    agent_executor = {
      # conversations (META, turns, summaries, run events, socket subscriptions), the turn's
      # outbox, daily budgets, WebSocket connections and topic listeners
      read  = ["CONV#*", "OUTBOX#*", "BUDGET#*", "WS#*", "WSTOPIC#*", "idempotency#agent_executor#*", "idempotency#agent_executor-*#*"]
      write = ["CONV#*", "OUTBOX#*", "BUDGET#*", "WS#*", "WSTOPIC#*", "idempotency#agent_executor#*", "idempotency#agent_executor-*#*"]
    }
    approval_worker = {
      # approvals (only this role writes them); the outbox, to check that a request was really
      # saved by a turn; conversations, to note a rejection
      read  = ["APPROVAL#*", "OUTBOX#*", "CONV#*", "idempotency#approval_worker#*", "idempotency#approval_worker-*#*"]
      write = ["APPROVAL#*", "CONV#*", "idempotency#approval_worker#*", "idempotency#approval_worker-*#*"]
    }
    standard_worker = {
      # the application's items (its catalog's `items`); approvals and the outbox, read only
      read  = concat(["APPROVAL#*", "OUTBOX#*", "idempotency#standard_worker#*", "idempotency#standard_worker-*#*"], local.app_items)
      write = concat(["idempotency#standard_worker#*", "idempotency#standard_worker-*#*"], local.app_items)
    }
    dlq_handler = {
      read  = ["FAILURE#*"]
      write = ["FAILURE#*"]
    }
  }
  # named lists of key patterns -> their two conditions
  key_conditions = { for name, keys in merge(
    { for fn, keys in local.table_keys : "${fn}.read" => keys.read },
    { for fn, keys in local.table_keys : "${fn}.write" => keys.write },
    { approvals_index = ["APPROVALS#*"], outbox = ["OUTBOX#*"] },
    ) : name => [
    { test = "ForAllValues:StringLike", variable = "dynamodb:LeadingKeys", values = keys },
    { test = "Null", variable = "dynamodb:LeadingKeys", values = ["false"] },
  ] }
  table_statements = { for fn, keys in local.table_keys : fn => [
    {
      sid        = "ReadItems"
      actions    = ["dynamodb:GetItem", "dynamodb:Query"]
      resources  = [local.table_arn]
      conditions = local.key_conditions["${fn}.read"]
    },
    {
      sid        = "WriteItems"
      actions    = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]
      resources  = [local.table_arn]
      conditions = local.key_conditions["${fn}.write"]
    },
  ] }

  # Each function publishes only its own source and detail-types (both keys are multivalued:
  # ForAllValues over every entry of the PutEvents call, Null false so that some must be given).
  publishes = {
    agent_executor  = { source = "agentocore.agent", detail_types = ["AgentInvocationRequested", "AgentExecutionCompleted"] }
    approval_worker = { source = "agentocore.approvals", detail_types = ["ActionApprovalRequested", "ActionApproved", "ActionRejected"] }
    standard_worker = { source = "agentocore.workers", detail_types = ["ActionCompleted", "ActionFailed"] }
    outbox_relay    = { source = "agentocore.actions", detail_types = ["ActionRequested"] }
  }
  publish_statements = { for fn, p in local.publishes : fn => {
    sid       = "PublishOwnEvents"
    actions   = ["events:PutEvents"]
    resources = [local.bus_arn]
    conditions = [
      { test = "ForAllValues:StringEquals", variable = "events:source", values = [p.source] },
      { test = "ForAllValues:StringEquals", variable = "events:detail-type", values = p.detail_types },
      { test = "Null", variable = "events:source", values = ["false"] },
      { test = "Null", variable = "events:detail-type", values = ["false"] },
    ]
  } }

  agent_statements = concat(
    local.table_statements.agent_executor,
    [
      {
        # a user's conversation list; the approvals' list shares the index (APPROVALS#<status>)
        sid       = "OwnConversationList"
        actions   = ["dynamodb:Query"]
        resources = [local.table_index]
        conditions = [
          { test = "ForAllValues:StringNotLike", variable = "dynamodb:LeadingKeys", values = ["APPROVALS#*"] },
          { test = "Null", variable = "dynamodb:LeadingKeys", values = ["false"] },
        ]
      },
      local.publish_statements.agent_executor,
      {
        # answers and run events to the WebSocket API's connections (this API's stage only)
        sid        = "PushToSockets"
        actions    = ["execute-api:ManageConnections"]
        resources  = [module.websocket_api.connections_arn]
        conditions = []
      },
      {
        sid        = "SocketEndpoint"
        actions    = ["ssm:GetParameter"]
        resources  = ["arn:${local.partition}:ssm:${local.region}:${local.account}:parameter${local.ws_endpoint_parameter}"]
        conditions = []
      },
      {
        sid        = "ReadInbox"
        actions    = ["s3:GetObject"]
        resources  = ["${local.bucket_arn}/conversations/*"]
        conditions = []
      },
    ],
    length(local.bedrock_arns) == 0 ? [] : [{
      sid        = "InvokeModel"
      actions    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources  = local.bedrock_arns
      conditions = []
    }],
    local.tool_secret_statements, # GetSecretValue on the tools' secrets only (secrets.tf)
  )

  # Timeouts on their own (no references): the dead-letter queues size their visibility from them.
  timeouts = {
    agent_executor          = 120
    agent_executor_priority = 120
    standard_worker         = 30
    approval_worker         = 30
    dlq_handler             = 60
    outbox_relay            = 60
    ws_authorizer           = 10
  }

  functions = {
    agent_executor = {
      source      = "agent_executor"
      description = "Runs the agent for every trigger (HTTP API, events, S3, SNS, schedules)"
      memory_mb   = 1024
      timeout_s   = local.timeouts.agent_executor
      statements  = local.agent_statements
    }
    agent_executor_priority = {
      source      = "agent_executor"
      description = "agent_executor for priority=high invocations (own reserved concurrency)"
      memory_mb   = 1024
      timeout_s   = local.timeouts.agent_executor_priority
      statements  = local.agent_statements
    }
    standard_worker = {
      source      = "standard_worker"
      description = "Performs actions: those needing no approval and approved ones"
      memory_mb   = 512
      timeout_s   = local.timeouts.standard_worker
      statements  = concat(local.table_statements.standard_worker, [local.publish_statements.standard_worker])
    }
    approval_worker = {
      source      = "approval_worker"
      description = "Actions whose rule needs a human become pending approvals + SNS notices"
      memory_mb   = 512
      timeout_s   = local.timeouts.approval_worker
      statements = concat(local.table_statements.approval_worker, [
        {
          sid        = "PendingApprovals" # the approvals' list: APPROVALS#<status> on the index
          actions    = ["dynamodb:Query"]
          resources  = [local.table_index]
          conditions = local.key_conditions.approvals_index
        },
        {
          sid        = "NotifyApprovers"
          actions    = ["sns:Publish"]
          resources  = [module.alerts.approvals_topic_arn]
          conditions = []
        },
        local.publish_statements.approval_worker,
      ])
    }
    dlq_handler = {
      source      = "dlq_handler"
      description = "Dead letters become failure records + SNS alerts"
      memory_mb   = 256
      timeout_s   = local.timeouts.dlq_handler
      statements = concat(local.table_statements.dlq_handler, [
        {
          sid       = "Alert"
          actions   = ["sns:Publish"]
          resources = [module.alerts.alerts_topic_arn]
        },
        {
          sid       = "ConsumeDeadLetters"
          actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
          resources = [for k in local.drained_dlqs : module.queues.arns[k]]
        },
      ])
    }
    ws_authorizer = {
      source      = "ws_authorizer"
      description = "The WebSocket API's $connect authorizer: the HTTP API's JWT issuer (?token=)"
      memory_mb   = 256
      timeout_s   = local.timeouts.ws_authorizer
      statements  = [] # fetches the issuer's public keys over HTTPS; no AWS call
    }
    outbox_relay = {
      source      = "outbox_relay"
      description = "Publishes the action requests saved turns wrote to the outbox (table stream)"
      memory_mb   = 256
      timeout_s   = local.timeouts.outbox_relay
      statements = [
        {
          sid     = "ReadStream"
          actions = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
          # the table's streams (as AWS's DynamoDB guide scopes it): ListStreams is authorized on
          # <table>/stream/*, and a re-enabled stream gets a new label
          resources = ["${local.table_arn}/stream/*"]
        },
        {
          sid        = "ReadOutbox"
          actions    = ["dynamodb:GetItem"]
          resources  = [local.table_arn]
          conditions = local.key_conditions.outbox
        },
        {
          # mark an outbox item published: its keys and the two marker attributes only (the
          # entries a turn saved stay as written)
          sid       = "MarkPublished"
          actions   = ["dynamodb:UpdateItem"]
          resources = [local.table_arn]
          conditions = concat(local.key_conditions.outbox, [
            { test = "ForAllValues:StringEquals", variable = "dynamodb:Attributes", values = ["PK", "SK", "published_at", "outbox_pending"] },
          ])
        },
        {
          sid       = "PendingOutbox"
          actions   = ["dynamodb:Query"]
          resources = ["${local.table_arn}/index/OutboxPendingIndex"]
        },
        local.publish_statements.outbox_relay,
        {
          sid       = "OnFailure"
          actions   = ["sqs:SendMessage"]
          resources = [module.queues.arns["outbox"]]
        },
      ]
    }
  }

  # HTTP routes per function: decisions are approval_worker's (its role writes approvals;
  # agent_executor's, where model output and tool results land, cannot).
  api_routes = {
    agent_executor = [
      "POST /conversations/{conversation_id}/messages",
      "GET /conversations/{conversation_id}",
      "GET /conversations/{conversation_id}/events",
      "GET /users/me/conversations",
    ]
    approval_worker = [
      "GET /approvals",
      "POST /approvals/{approval_id}",
    ]
  }

  # The application's action types: one rule per (type, worker) from the catalog file it owns
  # (generated from its Python declarations: python -m agentocore.actions.routing <app>).
  action_catalog = jsondecode(file(coalesce(var.action_catalog_file, "${path.module}/../functions/${var.app}/catalog.json")))
  action_targets = {
    standard_worker = { function = "standard_worker", dlq = "actions_standard" }
    approval_worker = { function = "approval_worker", dlq = "actions_approval" }
  }
  action_rules = merge([
    for name, action in local.action_catalog.actions : {
      for worker, rule in action.rules : rule.key => {
        description = "${name} (${action.approval_text}) -> ${worker}"
        pattern     = jsonencode(rule.pattern)
        worker      = worker
      }
    }
  ]...)

  # rule -> its target: a function (its own DLQ) or, for what no rule may act on, the unrouted
  # queue (dlq_handler records it and alerts)
  rules = merge(
    { for key, rule in local.rule_specs : key => {
      description   = rule.description
      pattern       = rule.pattern
      function_name = module.functions[rule.target].name
      target_arn    = module.functions[rule.target].arn
      dlq_arn       = module.queues.arns[key]
    } },
    { for key, rule in local.action_rules : key => {
      description   = rule.description
      pattern       = rule.pattern
      function_name = rule.worker == "unrouted" ? null : module.functions[local.action_targets[rule.worker].function].name
      target_arn    = rule.worker == "unrouted" ? module.queues.arns["unrouted"] : module.functions[local.action_targets[rule.worker].function].arn
      dlq_arn       = rule.worker == "unrouted" ? module.queues.arns["bus"] : module.queues.arns[local.action_targets[rule.worker].dlq]
    } },
    {
      # the catch-all: undeclared action types, other detail-types on the actions source
      unrouted_actions = {
        description   = "Action requests no rule routes (undeclared action types) -> unrouted queue"
        pattern       = jsonencode(local.action_catalog.unrouted)
        function_name = null
        target_arn    = module.queues.arns["unrouted"]
        dlq_arn       = module.queues.arns["bus"]
      }
    },
  )
  rule_specs = {
    invocation = {
      description = "AgentInvocationRequested (normal and low priority) -> agent_executor"
      target      = "agent_executor"
      pattern = jsonencode({
        source        = ["agentocore.agent"]
        "detail-type" = ["AgentInvocationRequested"]
        # normal, low, or no priority at all
        detail = { priority = [{ "anything-but" = ["high"] }, { exists = false }] }
      })
    }
    invocation_priority = {
      description = "AgentInvocationRequested priority=high -> agent_executor_priority"
      target      = "agent_executor_priority"
      pattern = jsonencode({
        source        = ["agentocore.agent"]
        "detail-type" = ["AgentInvocationRequested"]
        detail        = { priority = ["high"] }
      })
    }
    action_progress = {
      description = "Actions' progress -> agent_executor (told to the conversation's live sockets and to listening approvers)"
      target      = "agent_executor"
      pattern = jsonencode({
        source        = ["agentocore.approvals", "agentocore.workers"]
        "detail-type" = ["ActionApprovalRequested", "ActionApproved", "ActionRejected", "ActionCompleted", "ActionFailed"]
      })
    }
    approved = {
      description = "ActionApproved -> standard_worker"
      target      = "standard_worker"
      pattern = jsonencode({
        source        = ["agentocore.approvals"]
        "detail-type" = ["ActionApproved"]
      })
    }
  }
}

module "kms" {
  source = "./modules/kms"
  name   = local.prefix
  tags   = local.tags
}

module "memory_table" {
  source              = "./modules/memory_table"
  name                = "${local.prefix}-memory"
  kms_key_arn         = module.kms.key_arn
  deletion_protection = var.production
  tags                = local.tags
}

module "queues" {
  source = "./modules/queues"
  prefix = local.prefix
  queues = toset(local.drained_dlqs)
  # AWS refuses an SQS event source mapping whose visibility timeout is below the function's
  # timeout; 6x is its recommendation.
  visibility_timeout_seconds = 6 * local.timeouts.dlq_handler
  tags                       = local.tags
}

module "alerts" {
  source          = "./modules/alerts"
  prefix          = local.prefix
  kms_key_arn     = module.kms.key_arn
  alert_emails    = var.alert_emails
  approver_emails = var.approver_emails
  tags            = local.tags
}

module "layer" {
  source       = "./modules/layer"
  name         = "${local.prefix}-core"
  zip_path     = "${var.dist_dir}/agentocore-layer.zip"
  architecture = var.architecture
}

module "functions" {
  source               = "./modules/function"
  for_each             = local.functions
  name                 = "${local.prefix}-${replace(each.key, "_", "-")}"
  description          = each.value.description
  runtime              = var.runtime
  architecture         = var.architecture
  zip_path             = "${var.dist_dir}/functions/${each.value.source}.zip"
  layer_arns           = [module.layer.arn]
  memory_mb            = each.value.memory_mb
  timeout_s            = each.value.timeout_s
  reserved_concurrency = lookup(var.reserved_concurrency, each.key, -1)
  environment          = merge(local.environment, lookup(local.function_environment, each.key, {}))
  statements           = each.value.statements
  kms_key_arn          = module.kms.key_arn
  # ws_authorizer is only invoked synchronously (API Gateway): its queue is never used
  dead_letter_queue_arn = contains(["dlq_handler", "ws_authorizer"], each.key) ? module.queues.terminal_arn : module.queues.arns["fn_${each.key}"]
  async                 = !contains(["dlq_handler", "ws_authorizer"], each.key)
  log_retention_days    = var.log_retention_days
  tags                  = local.tags
}

module "event_bus" {
  source      = "./modules/event_bus"
  name        = "${local.prefix}-bus"
  kms_key_arn = module.kms.key_arn
  dlq_arn     = module.queues.arns["bus"]
  rules       = local.rules
  tags        = local.tags
}

# dlq_handler drains every dead-letter queue (partial batch failures reported per message).
resource "aws_lambda_event_source_mapping" "dead_letters" {
  for_each                = toset(local.drained_dlqs)
  event_source_arn        = module.queues.arns[each.key]
  function_name           = module.functions["dlq_handler"].arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]
}

module "http_api" {
  source = "./modules/http_api"
  name   = "${local.prefix}-api"
  integrations = {
    agent_executor = {
      function_name = module.functions["agent_executor"].name
      invoke_arn    = module.functions["agent_executor"].invoke_arn
      routes        = local.api_routes.agent_executor
    }
    approval_worker = {
      function_name = module.functions["approval_worker"].name
      invoke_arn    = module.functions["approval_worker"].invoke_arn
      routes        = local.api_routes.approval_worker
    }
  }
  jwt_issuer         = var.jwt_issuer
  jwt_audience       = var.jwt_audience
  cors_origins       = var.console_origins
  throttle_rate      = var.api_throttle_rate
  throttle_burst     = var.api_throttle_burst
  log_retention_days = var.log_retention_days
  kms_key_arn        = module.kms.key_arn
  tags               = local.tags
}

module "websocket_api" {
  source                   = "./modules/websocket_api"
  name                     = "${local.prefix}-live"
  function_name            = module.functions["agent_executor"].name
  invoke_arn               = module.functions["agent_executor"].invoke_arn
  authorizer_function_name = module.functions["ws_authorizer"].name
  authorizer_invoke_arn    = module.functions["ws_authorizer"].invoke_arn
  endpoint_parameter       = local.ws_endpoint_parameter
  throttle_rate            = var.api_throttle_rate
  throttle_burst           = var.api_throttle_burst
  log_retention_days       = var.log_retention_days
  kms_key_arn              = module.kms.key_arn
  tags                     = local.tags
}

module "triggers" {
  source              = "./modules/triggers"
  prefix              = local.prefix
  bucket_name         = local.bucket_name
  account_id          = local.account
  function_name       = module.functions["agent_executor"].name
  function_arn        = module.functions["agent_executor"].arn
  kms_key_arn         = module.kms.key_arn
  schedule_expression = var.schedule_expression
  schedule_enabled    = var.schedule_enabled
  schedule_dlq_arn    = module.queues.arns["schedule"]
  force_destroy       = !var.production
  tags                = local.tags
}

module "dashboard" {
  source           = "./modules/dashboard"
  name             = local.prefix
  function_names   = [for f in module.functions : f.name]
  dlq_names        = values(module.queues.names) # the terminal queue included
  alerts_topic_arn = module.alerts.alerts_topic_arn
  tags             = local.tags
}
