"""设置说明的简体中文译文: the Chinese text the console shows for each setting.

`DESCRIPTIONS_ZH` maps every field of `yuqing.settings.Settings` to a Simplified Chinese translation
of its English ``description``. Setting names, environment variables, commands, units and values stay
as they are. `description_zh` falls back to the English description for a setting that has no
translation yet, so adding a setting never breaks the settings page; a test keeps the two in step.
"""

from __future__ import annotations

from yuqing.settings import Settings

DESCRIPTIONS_ZH: dict[str, str] = {
    "database_url": (
        "SQLAlchemy 数据库 URL。默认使用工作目录中的 SQLite 文件 `yuqing.db`"
        "（WAL 日志模式，设有忙等待超时）；"
        "需要扩展规模时改用 `postgresql+psycopg://host/db`。"
    ),
    "sqlite_busy_timeout_ms": "SQLite 写入方等待锁的最长时间，超时即报错（毫秒）。",
    "timezone": "显示时间、调度计划以及未标明时区的发布时间所用的时区。",
    "allow_private_addresses": (
        "允许采集器和聊天机器人的 webhook 访问私有地址、环回地址和链路本地地址。"
        "默认关闭，以免信息源或机器人 URL 被用来探测内部网络；测试时会开启。"
    ),
    "fetch_max_bytes": "采集器接受的最大响应体（字节）。",
    "fetch_connect_timeout": "连接超时（秒）。",
    "fetch_read_timeout": "从服务器两次读取数据之间的超时（秒）。",
    "fetch_total_timeout": (
        "整个请求的最长时限，以免服务器一点一点地慢慢发送数据，使一次采集无限期挂起（秒）。"
    ),
    "fetch_max_redirects": "放弃前最多跟随的重定向次数。",
    "respect_robots_txt": "遵守所采集网站的 robots.txt。仅在获得许可后才可关闭。",
    "bridge_instances": (
        "本单位自建的 RSSHub 和 WeWe RSS 实例，以逗号分隔"
        "（例如 `http://127.0.0.1:1200,http://wewe-rss:4000`）。"
        "位于这些主机和端口上的信息源可以使用私有地址，采集时也不查询 robots.txt"
        "（WeWe RSS 禁止一切爬虫）；其他网站仍须通过这两项检查。此项仅由管理员设置。"
    ),
    "user_agent": "采集器发送的 User-Agent 请求头。",
    "default_schedule": (
        "未指定采集计划的信息源所用的计划：按 `timezone` 解释的 cron 表达式，"
        "或 `30m`、`2h`、`1d` 这样的间隔。默认按预案要求每天扫描两次，分别在 08:00 和 20:00。"
    ),
    "schedule_jitter_seconds": "为每次计划运行附加的随机延迟，避免所有信息源在同一秒开始采集。",
    "backoff_base_seconds": "信息源首次失败后重试前的等待时间；此后每连续失败一次，等待时间翻倍。",
    "backoff_max_seconds": "持续失败的信息源两次重试之间的最长等待时间。",
    "silent_after_runs": "信息源采集均成功、却连续这么多次运行都没有获取到任何条目时，被标记为已静默停止。",
    "dedup_min_content_chars": (
        "规范化后的正文短于此长度的信息不按内容去重（“转发微博”之类的简短转发是各自独立的信息）；"
        "但仍按 URL 或 id 去重。"
    ),
    "near_duplicate_window_days": (
        "启动时加载的近似重复索引由最近这么多天内采集的信息组成；更早信息的副本将作为新信息入库。"
    ),
    "near_duplicate_max_items": (
        "内存中的近似重复索引最多保留的信息条数（每条约 1.3 KB）；超出时先淘汰最早的信息。"
    ),
    "import_batch_size": "导入和采集时每个事务写入的行数。",
    "import_max_decompressed_bytes": (
        "压缩（.gz）导入文件解压后允许达到的最大大小（字节）；解压后超过此大小的文件（“zip 炸弹”）"
        "保留此前已读取的行，其余部分记入死信。"
    ),
    "import_worker": (
        "大批量导入时，在第二个进程中准备数据行（解析、映射、规范化），同时由第一个进程写入；"
        "会占用两个 CPU 核心。"
    ),
    "plan_profile": (
        "预案配置文件（各等级及其条件，TOML 格式）。留空：使用随软件提供的四级分级配置（预案 003）；"
        "同时随附的还有两级分级配置 `two_level`（预案 000）。"
    ),
    "analysis_enabled": "在 `yuqing serve` 内对新信息运行分析流水线。",
    "analysis_tick_seconds": "`yuqing serve` 检查有无待分析新信息的间隔（秒）。",
    "analysis_lease_seconds": (
        "分析流水线的租约在不续期时的有效时长：已退出（或卡住）的工作进程所负责的分析，"
        "在这么多秒后转交给其他进程。每处理一批都会续期。"
    ),
    "nats_url": (
        "启用 JetStream 的 NATS 服务器（例如 `nats://127.0.0.1:4222`）。"
        "设置后：`yuqing serve` 将已入库的信息发布到流上，分析交由 `yuqing worker` 进程完成；"
        "留空：由同一个进程在入库的同时进行分析（默认的嵌入式模式）。"
    ),
    "metrics_enabled": (
        "在 `/metrics` 提供 Prometheus 指标（各信息源的信息数、积压、流水线各步骤、通知发件箱、"
        "信息源健康状况、请求延迟）。`/healthz` 和 `/readyz` 始终提供。"
    ),
    "metrics_token": (
        "访问 `/metrics` 所需的 Bearer 令牌（`Authorization: Bearer …`）；留空：不需要令牌，"
        "因此应只在内部网络上开放该端口。"
    ),
    "log_format": (
        "输出到标准错误的日志格式：`text`，或供日志采集系统使用的 `json`"
        "（每行一个对象，含时间、级别、日志记录器、消息和流水线步骤）。"
    ),
    "source_silent_hours": (
        "采集类信息源过去曾带来新信息，但在持续采集的情况下已连续这么多小时没有新信息时，向管理员发出告警"
        "（例如账号已过期的 RSSHub 或 WeWe RSS 等桥接服务，仍会一直以旧条目应答）。"
    ),
    "source_failure_alarm_runs": "采集类信息源连续这么多次运行失败时，向管理员发出告警。",
    "alert_max_quiet_hours": (
        "定级时最新一条信息已超过这么多小时的事件（如补采的旧信息、导入的上月导出数据），"
        "照常定级并列出，但不发出预警：对早已结束的事件，不惊动任何人，也不开始报送计时。"
        "此后这么多小时内新增信息达到预案的 flare_up_posts 条时（旧事重提、舆情反复）才发出预警，"
        "旧事被转发一两次不惊动任何人。0：所有已定级的事件都发出预警。"
    ),
    "alert_outside_regions": (
        "事发地明确位于所有单位辖区之外的事件（如对市级单位而言的外省事件）也发出预警。默认不发："
        "此类事件照常定级并列出，重大、特别重大的在控制台告知其所属单位办公室，不惊动值班和领导，"
        "也不开始报送计时（预案：属地明显的由当地处置）。事发地不明确的事件总是发出预警。"
    ),
    "response_tick_seconds": (
        "`yuqing serve` 将定级信号转为预警、执行升级、巡检时限并检查跟踪中事件的间隔（秒）。"
    ),
    "working_hours": (
        "时限计时在工作日采用的工作时间（Asia/Shanghai 时间），以逗号分隔的 `HH:MM-HH:MM` 时段表示。"
    ),
    "smtp_host": "发送邮件通知的 SMTP 服务器；留空：关闭电子邮件通知。",
    "smtp_port": "SMTP 服务器端口。",
    "smtp_security": "SMTP 传输安全方式：`none`、`starttls` 或 `ssl`。",
    "smtp_user": "SMTP 登录名；留空：不登录。",
    "smtp_password": "SMTP 密码。",
    "smtp_from": "邮件通知的发件人地址。",
    "notify_max_attempts": "一条通知在被标记为失败前的投递尝试次数。",
    "notify_retry_seconds": "投递失败后首次重试前的等待时间；此后每次翻倍。",
    "notify_timeout_seconds": "单次投递尝试的超时（SMTP 或 webhook）。",
    "host": "`yuqing serve` 监听的地址。",
    "port": "`yuqing serve` 监听的端口。",
    "scheduler_enabled": "在 `yuqing serve` 内运行信息源调度器。",
    "scheduler_tick_seconds": "调度器检查有无到期信息源的间隔（秒）。",
    "fetch_concurrency": "调度器和 `yuqing fetch --once` 同时采集的信息源数（慢源不再拖延其他信息源）。",
    "webhook_max_bytes": "接受的 webhook 请求体最大大小（字节）。",
    "request_max_bytes": (
        "控制台和 API 读取的请求体最大大小（字节；webhook 另由 `webhook_max_bytes` 限制）。"
        "超过此大小的请求在读取前即以 413 拒绝。"
    ),
    "webhook_max_items": (
        "一次 webhook 请求最多可携带的信息条数；超出的投递在存储任何内容之前即被整体拒绝"
        "（HTTP 413，并记一条死信），由发送方自行拆分。"
    ),
    "session_hours": "控制台登录在这么多小时内没有任何请求后失效（滑动过期）。",
    "secure_cookies": "仅通过 HTTPS 发送登录 Cookie（`Secure`）。只要控制台通过 HTTPS 提供访问，就应开启。",
    "login_max_failures": "连续输错密码达到此次数后锁定账号。",
    "login_lockout_minutes": "账号锁定后拒绝任何密码的时长（分钟）。",
    "trusted_proxies": (
        "本单位反向代理的地址，以逗号分隔（例如 `127.0.0.1` 或 `10.0.0.5,10.0.0.6`；"
        "`*` 表示信任所有对端）。只有来自这些地址的连接，其 `X-Forwarded-For` 和 "
        "`X-Forwarded-Proto` 才会被采信，用于确定登录限制和审计日志所用的客户端地址。"
        "留空（默认）：忽略这些请求头，否则服务器本机上的任何人都可以冒称任意地址。"
    ),
    "login_attempts_per_address": (
        "同一客户端地址在 `login_attempt_window_seconds` 内可尝试登录的次数；"
        "超出的请求在校验任何密码之前即返回 HTTP 429。成功的登录不计入。"
    ),
    "login_attempts_per_login": (
        "在 `login_attempt_window_seconds` 内针对同一登录名的登录尝试次数（不论来自何处）；"
        "超出的请求在校验任何密码之前即返回 HTTP 429。成功的登录不计入。"
    ),
    "login_attempt_window_seconds": "两项登录尝试次数限制所用的滑动时间窗口（秒）。",
    "login_hashing_slots": (
        "可同时进行的密码校验数（argon2id，每次占用 64 MiB）；其余的排队等待，"
        "以免大量登录请求占满所有 CPU 核心，影响正在使用系统的人员。"
    ),
    "login_hashing_wait_seconds": "登录请求等待空闲密码校验名额的最长时间，超时则返回 HTTP 503。",
    "admin_password": (
        "`yuqing init` 创建的首个管理员（`admin`）的密码；留空：随机生成一个，并且只显示一次。"
    ),
    "demo_logins": "在登录页显示演示账号及其共用密码。仅用于演示：有真实用户登录的环境切勿开启。",
    "report_template_dir": (
        "本单位自有 Word 模板所在的文件夹（`special.docx`、`daily.docx` 等，"
        "或用 `default.docx` 作为所有报告的模板）；留空：使用随软件提供的模板"
        "（其字段见 docs/reports.md）。"
    ),
    "report_font": (
        "PDF 报告和图表使用的中文字体文件（.ttf/.otf/.ttc）；留空：从系统字体中查找，"
        "找不到则使用 yuqing 自带的 `Noto Sans CJK SC` 字体子集。"
    ),
    "daily_report_time": (
        "`yuqing serve` 在工作日生成并发送日报的时间（HH:MM，本单位所在时区）；留空：不按计划自动生成报告。"
    ),
    "daily_report_units": "按计划接收日报的单位（名称或 id）；留空：组织架构中的最上级单位。",
    "daily_report_format": "按计划生成的日报所用的文件格式：`docx`、`pdf` 或 `html`。",
    "public_url": (
        "用户实际访问控制台所用的地址（用于通知中的链接）；留空：使用 `yuqing serve` 的 http://HOST:PORT。"
    ),
}


def description_zh(name: str) -> str:
    """The Chinese description of setting `name`; its English description when there is none yet."""
    text = DESCRIPTIONS_ZH.get(name)
    if text:
        return text
    field = Settings.model_fields.get(name)
    return (field.description or "") if field is not None else ""
