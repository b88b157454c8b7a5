//! Stable machine codes for every error the server answers with.
//!
//! The wire carries the snake_case name (`"code": "point_inactive"`) beside
//! the English sentence in `error`; clients (console, phone app, CLI)
//! translate and act by code, never by matching the sentence. A code, once
//! shipped, keeps its name: devices in the field cannot be upgraded at once.
//! Add a code by adding a variant, its Chinese text in [`ErrorCode::zh`] and
//! its place in [`ErrorCode::ALL`] (a test checks the list is complete).

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($variant:ident => $name:literal, $zh:literal;)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($variant,)+
            /// A code this build does not know (a newer server): clients
            /// fall back to the sentence.
            #[serde(other)]
            Unknown,
        }

        impl ErrorCode {
            /// Every code the server can send.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The wire name, as serde writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// What a Chinese-speaking user reads for this code.
            pub fn zh(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $zh,)+
                    ErrorCode::Unknown => "请求未被接受",
                }
            }
        }
    };
}

error_codes! {
    // Generic codes, one per kind of refusal; specific codes below say more.
    BadRequest => "bad_request", "请求格式有误";
    Unauthenticated => "unauthenticated", "未登录或登录已失效，请重新登录";
    Forbidden => "forbidden", "当前账号无权进行此操作";
    NotFound => "not_found", "找不到所请求的内容";
    Conflict => "conflict", "与服务器上已有的内容冲突";
    CursorReset => "cursor_reset", "同步位置已失效，将从头同步";
    TooLarge => "too_large", "内容过大";
    Invalid => "invalid", "内容不符合要求";
    TooManyRequests => "too_many_requests", "尝试次数过多，请稍后再试";
    Internal => "internal", "服务器内部错误，已记录，请稍后再试";
    // Request shape (api): dates, and request heads bounded before hyper's own bare answers.
    BadDate => "bad_date", "日期格式有误，应为 2026-11-27 或 RFC 3339 时间";
    DateOutOfRange => "date_out_of_range", "日期超出可处理的范围";
    UriTooLong => "uri_too_long", "请求地址过长";
    HeadersTooLarge => "headers_too_large", "请求头过大";
    // Reference data, as pushed findings, reviews and imports name it (api).
    UnitUnknown => "unit_unknown", "责任单位不存在";
    UnitInactive => "unit_inactive", "责任单位已停用";
    PointUnknown => "point_unknown", "检查点位不存在";
    PointInactive => "point_inactive", "检查点位已停用";
    PointUnitMismatch => "point_unit_mismatch", "点位不属于所选责任单位";
    CategoryUnknown => "category_unknown", "问题类别不存在";
    CategoryInactive => "category_inactive", "问题类别已停用";
    IdInvalid => "id_invalid", "编号须为 1 至 40 个字母、数字、- 或 _";
    NameLength => "name_length", "名称为空或过长";
    LatitudeInvalid => "latitude_invalid", "纬度须在 -90 至 90 之间（十进制度数）";
    LongitudeInvalid => "longitude_invalid", "经度须在 -180 至 180 之间（十进制度数）";
    CategoryCodeInvalid => "category_code_invalid", "类别代码须为 1 至 40 个字母、数字或 _";
    ImportInvalid => "import_invalid", "导入文件有误，未导入任何内容；请按所列行号和字段修改";
    SettingLength => "setting_length", "设置项为空或过长";
    DeadlineInvalid => "deadline_invalid", "整改期限须为 0 至 365 天，或留空表示无需整改";
    ReferenceIdMismatch => "reference_id_mismatch", "地址中的编号与内容中的编号不一致";
    // A unit's contacts, the outbox's email server and its delivery log (api).
    ContactNotFound => "contact_not_found", "没有这位联系人";
    ContactNameLength => "contact_name_length", "联系人姓名须为 1 至 40 个字";
    ContactRoleUnknown => "contact_role_unknown", "联系人角色须为联系人、点长或分管领导";
    ContactPointNotChief => "contact_point_not_chief", "只有点长可以指定负责的点位";
    ContactPhoneInvalid => "contact_phone_invalid", "电话号码格式有误，只能包含数字、空格、+、- 和括号";
    ContactEmailInvalid => "contact_email_invalid", "电子邮箱地址格式有误";
    ContactWebhookKindUnknown => "contact_webhook_kind_unknown", "推送方式须为企业微信、钉钉或通用 JSON";
    ContactWebhookIncomplete => "contact_webhook_incomplete", "推送方式和推送地址须同时填写或同时留空";
    ContactWebhookUrlInvalid => "contact_webhook_url_invalid", "推送地址须为以 http:// 或 https:// 开头的完整网址";
    ContactSecretInvalid => "contact_secret_invalid", "签名密钥只用于通用 JSON 推送，且须为 16 至 256 个字符";
    ContactSecretRequired => "contact_secret_required", "通用 JSON 推送须设置签名密钥";
    ContactInactive => "contact_inactive", "该联系人已停用";
    ContactNoChannel => "contact_no_channel", "该联系人没有电子邮箱或推送地址，无法发送通知";
    SmtpHostInvalid => "smtp_host_invalid", "邮件服务器地址有误，应为域名或 IP 地址";
    SmtpPortInvalid => "smtp_port_invalid", "邮件服务器端口须为 1 至 65535";
    SmtpTlsUnknown => "smtp_tls_unknown", "加密方式须为不加密、STARTTLS 或 TLS";
    SmtpFromInvalid => "smtp_from_invalid", "发件人地址格式有误";
    SmtpCredentialTooLong => "smtp_credential_too_long", "邮件服务器用户名或密码过长";
    NoticeNotFound => "notice_not_found", "没有这条通知记录";
    NoticeNotFailed => "notice_not_failed", "只有发送失败的通知可以重新发送";
    // Findings as pushed (api).
    FindingNotFound => "finding_not_found", "没有这条发现";
    FindingInvalid => "finding_invalid", "发现内容不符合要求";
    FindingIdInvalid => "finding_id_invalid", "发现编号无效（须为 UUIDv7）";
    FieldRequired => "field_required", "必填项为空";
    NoteTooLong => "note_too_long", "备注过长";
    LocationInvalid => "location_invalid", "位置信息无效";
    TooManyPhotos => "too_many_photos", "照片过多";
    PhotoRequired => "photo_required", "红牌和黄牌至少需要一张照片作为证据";
    PhotoHashInvalid => "photo_hash_invalid", "照片编号无效";
    PhotoDuplicate => "photo_duplicate", "同一张照片附加了两次";
    CardUnknown => "card_unknown", "未知的牌色，应为红、黄或绿";
    PointKindUnknown => "point_kind_unknown", "未知的点位类型";
    ObservedInFuture => "observed_in_future", "记录时间晚于服务器时间，请检查手机的日期和时间";
    DeviceKeyInvalid => "device_key_invalid", "设备签名密钥无效，请更新应用后重新登记";
    DeviceWithoutKey => "device_without_key", "此设备登记时没有签名密钥，请用新的登记码重新登记";
    FindingOtherDevice => "finding_other_device", "此发现编号已由另一台设备上传";
    FindingConflict => "finding_conflict", "同一编号的发现已以不同内容上传";
    SignatureInvalid => "signature_invalid", "设备签名无效";
    AssignmentUnknown => "assignment_unknown", "本设备上没有这项任务，请先同步，再从今日任务中选择";
    AssignmentPointMismatch => "assignment_point_mismatch", "该任务的点位与所选点位不同";
    // Review (api).
    ReviewDecisionUnknown => "review_decision_unknown", "未知的审核决定";
    ReviewReasonTooLong => "review_reason_too_long", "审核理由过长";
    ReviewReasonRequired => "review_reason_required", "驳回或更正必须填写理由";
    ReviewChangeNeedsCorrect => "review_change_needs_correct", "采纳或驳回不能修改类别、单位或牌色；如需修改，请选择“更正”";
    ReviewCorrectionUnchanged => "review_correction_unchanged", "更正必须改变问题类别、责任单位或牌色中的至少一项；如无需改变，请选择“采纳”";
    // Identities (api).
    IdentityRealNameLength => "identity_real_name_length", "真实姓名须为 1 至 64 个字";
    IdentityContactTooLong => "identity_contact_too_long", "联系方式最多 128 个字";
    // Draws (api).
    DrawInvalid => "draw_invalid", "抽签参数有误";
    DrawInfeasible => "draw_infeasible", "抽签无法满足约束";
    DrawPeriodBegun => "draw_period_begun", "抽签期间已经开始；只能为将来的期间抽签";
    DrawNotEnded => "draw_not_ended", "抽签期间尚未结束，种子结束后才能揭晓";
    DrawNotFound => "draw_not_found", "没有这次抽签";
    DrawInspectorInactive => "draw_inspector_inactive", "所选督查员不存在或已停用";
    InspectorNotFound => "inspector_not_found", "没有这名督查员";
    InspectorAliasLength => "inspector_alias_length", "化名须为 1 至 32 个字";
    // Uploads.
    UploadOffsetMismatch => "upload_offset_mismatch", "上传位置与服务器不一致，将从服务器的位置继续";
    // Devices and office accounts (revocation, expiry, disabling).
    DeviceRevoked => "device_revoked", "此设备已被停用";
    DeviceExpired => "device_expired", "此设备长期未同步，登记已失效，请向办公室索取新登记码";
    UserDisabled => "user_disabled", "该账号已被停用";
    LastAdmin => "last_admin", "不能停用最后一个管理员账号";
    // Evidence and draws.
    VisitNotYours => "visit_not_yours", "此抽签任务不是本督查员的任务";
    VisitWrongPoint => "visit_wrong_point", "记录的点位不是此抽签任务的点位";
    VisitOutsideSlot => "visit_outside_slot", "观察时间不在此抽签任务的时段内";
    ObservedBeforeEnrollment => "observed_before_enrollment", "观察时间早于本设备注册时间，请检查手机的日期和时间";
    // A stored photo must be exactly what the app's photo pipeline writes:
    // no Exif/XMP/comment segment and nothing after the end of the image.
    PhotoMetadata => "photo_metadata", "照片带有元数据（如相机品牌、型号或附加数据），服务器只接受应用处理过的照片";
    // Progressive, arithmetic-coded or otherwise not the app's baseline JPEG.
    PhotoNotFromApp => "photo_not_from_app", "照片不是应用生成的格式，请用最新版应用重新拍摄或选择照片";
    PhotoDimensions => "photo_dimensions", "照片尺寸超过应用生成的上限（长边2048像素）";
    // The device holds too many unfinished uploads (or announced bytes).
    UploadLimit => "upload_limit", "本设备未完成的照片上传过多，请稍后再同步";
    // Text inputs and what units see.
    TextControlCharacter => "text_control_character", "文字中含有看不见的控制字符，请删除后重新提交";
    // Office sign-in (server/src/signin.rs).
    UsernameTooLong => "username_too_long", "用户名过长，最多 64 个字符";
    PasswordTooLong => "password_too_long", "密码过长，最多 1024 个字节";
    SignInLocked => "sign_in_locked", "登录失败次数过多，请稍后再试";
    // Exports (server/src/db/mod.rs, `read_streamed`): two are being downloaded.
    ExportBusy => "export_busy", "已有两个导出正在下载，请一分钟后再试";
    // The object store holding photos does not answer (server/src/objects.rs).
    StorageUnavailable => "storage_unavailable", "照片存储暂时无法访问，请稍后再试";
    // Rectification cases (server/src/rectification/case.rs).
    CaseNotFound => "case_not_found", "没有这份整改单";
    CaseWrongState => "case_wrong_state", "整改单当前的状态不允许这项操作";
    CasePhotoRequired => "case_photo_required", "整改反馈至少需要一张整改后的照片";
    CaseNoteRequired => "case_note_required", "整改反馈需要填写整改情况";
    CaseExplanationRequired => "case_explanation_required", "红牌整改需要提交书面说明";
    CaseReasonRequired => "case_reason_required", "请填写理由";
    CaseReturnWindowPassed => "case_return_window_passed", "已超过可申请退回的期限";
    CaseRequestPending => "case_request_pending", "此前的申请尚待办公室决定";
    CaseNoRequest => "case_no_request", "没有待决定的申请";
    CaseExtensionNotLater => "case_extension_not_later", "延期后的期限须晚于当前期限";
    CaseTargetNotLater => "case_target_not_later", "挂账的目标日期须晚于今天";
    CaseRecheckNotIndependent => "case_recheck_not_independent", "发现问题的督查员不能复查同一问题";
    CaseCloseNeedsVisit => "case_close_needs_visit", "只有黄牌且办公室允许时才能凭反馈材料销号，红牌必须实地复查";
    CaseReassignSameUnit => "case_reassign_same_unit", "改派的单位与原单位相同";
    CalendarInvalid => "calendar_invalid", "工作日历有误，无法计算期限";
    CaseChanged => "case_changed", "整改单刚被他人更新，请刷新后重试";
    CaseAttachmentUnknown => "case_attachment_unknown", "附件尚未上传或已过期，请重新上传";
    CaseAttachmentInvalid => "case_attachment_invalid", "附件不是可接受的照片或 PDF 文件";
    CaseAttachmentTooLarge => "case_attachment_too_large", "附件过大：照片最大 40 MB，PDF 最大 10 MB";
    CaseTooManyPhotos => "case_too_many_photos", "一次反馈最多 9 张照片";
    CaseTextTooLong => "case_text_too_long", "文字过长，最多 2000 字";
    CaseDecisionUnknown => "case_decision_unknown", "未知的决定，请选择改派、不同意退回、同意或不同意延期、同意或不同意挂账、凭材料销号";
    CalendarImportInvalid => "calendar_import_invalid", "工作日历导入有误：每行为“日期,休或班[,说明]”";
    SignInPaused => "sign_in_paused", "服务器近期登录失败过多，已暂停登录，请几分钟后再试";
    SignInBusy => "sign_in_busy", "登录请求过多，服务器正忙，请几秒后再试";
    // Re-checks (复查): recorded on a drawn re-check visit, drawn per answered case.
    RecheckNeedsAssignment => "recheck_needs_assignment", "复查结果必须记录在复查任务上";
    RecheckPhotoRequired => "recheck_photo_required", "复查至少需要一张现场照片";
    RecheckNotARecheckVisit => "recheck_not_a_recheck_visit", "此任务不是复查任务，不能记录复查结果";
    RecheckAlreadyRecorded => "recheck_already_recorded", "此复查任务已记录过复查结果";
    RecheckCaseMovedOn => "recheck_case_moved_on", "复查结果已保存，但整改单已不在待复查状态，未据此变更";
    RecheckNoInspector => "recheck_no_inspector", "没有可派的复查督查员：发现问题的督查员和回避该单位的督查员都不能复查";
    // The exposure page (曝光台): proposing, publishing and withdrawing entries.
    ExposureCaseUnknown => "exposure_case_unknown", "没有这份整改单或发现，无法提议曝光";
    ExposureGreenCard => "exposure_green_card", "绿牌表示点位达标，不能曝光";
    ExposureCaseCancelled => "exposure_case_cancelled", "整改单已撤销，不能曝光";
    ExposureAlreadyProposed => "exposure_already_proposed", "此整改单已提议或已曝光，请在曝光台处理该条目";
    ExposureNotFound => "exposure_not_found", "没有这条曝光条目";
    ExposureAlreadyPublished => "exposure_already_published", "此条目已公开发布，发布内容已固定，不能再次发布";
    ExposureWithdrawn => "exposure_withdrawn", "此条目已撤回，不能再发布或撤回；如需重新曝光，请重新提议";
    ExposureNotPublished => "exposure_not_published", "此条目尚未发布，无需撤回";
    ExposureOwnProposal => "exposure_own_proposal", "不能发布自己提议的曝光条目，须由另一名审核员或管理员发布（双人审核）";
    ExposureNeedsAdmin => "exposure_needs_admin", "曝光条目须由管理员发布；如需由第二名审核员发布，请管理员开启双人审核设置";
    ExposureTitleLength => "exposure_title_length", "公开标题须为 1 至 60 个字";
    ExposureDescriptionLength => "exposure_description_length", "公开说明须为 1 至 1000 个字";
    ExposureNamesInspector => "exposure_names_inspector", "公开内容中含有督查员化名，请删除后再发布";
    ExposurePhotoNotOfCase => "exposure_photo_not_of_case", "所选照片不是此发现的照片";
    ExposurePhotoRequired => "exposure_photo_required", "请至少选择一张整改前照片公开";
    ExposureFacesUnchecked => "exposure_faces_unchecked", "请先确认已检查照片中的人脸和车牌，再发布";
    ExposureCropInvalid => "exposure_crop_invalid", "裁剪范围无效：须在照片之内，且只能裁剪选中公开的照片";
    ExposureNoteLength => "exposure_note_length", "撤回说明须为 1 至 500 个字";
    ExposureCommitmentNotPublished => "exposure_commitment_not_published", "此整改单没有在曝光台公开，无需公开承诺";
    ExposureCommitmentNotRed => "exposure_commitment_not_red", "只有红牌整改单需要公开承诺";
    ExposureCommitmentExists => "exposure_commitment_exists", "本单位已对此条目作出公开承诺，承诺不能修改";
    ExposureCommitmentText => "exposure_commitment_text", "责任人姓名和职务须为 1 至 40 个字，承诺内容须为 1 至 500 个字";
    ExposureCommitmentDue => "exposure_commitment_due", "承诺完成日期须为今天至一年内的日期";
    // The monthly point league (点位达标月评排名).
    LeagueMonthInvalid => "league_month_invalid", "月份格式有误，应为 2026-11";
    LeagueMonthNotOver => "league_month_not_over", "该月尚未结束，不能发布月评排名";
    LeagueMonthIssued => "league_month_issued", "该月的月评排名已发布，发布结果已固定，不能再次发布";
    LeagueRulesInvalid => "league_rules_invalid", "积分规则有误：扣分和加分须为非负数，每类发现须设扣分，每个奖惩档次须适用于单位并写明措施";
    LeagueRulesForIssuedMonth => "league_rules_for_issued_month", "新规则的生效月份已发布过月评排名，已发布的月份按原规则评分，请选择之后的月份";
}

impl ErrorCode {
    /// A code that names only the kind of refusal (`bad_request`,
    /// `invalid`, …): a client shows the sentence beside its text, since
    /// the code alone does not say what to fix.
    pub fn is_generic(self) -> bool {
        use ErrorCode::*;
        matches!(self, BadRequest | Unauthenticated | Forbidden | NotFound | Conflict | TooLarge | Invalid | Unknown)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_has_a_chinese_text_and_round_trips_by_its_wire_name() {
        for code in ErrorCode::ALL {
            assert!(!code.zh().is_empty(), "{code} has no Chinese text");
            assert!(
                code.zh().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{code}: {:?} is not Chinese",
                code.zh()
            );
            let wire = serde_json::to_string(code).unwrap();
            assert_eq!(wire, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&wire).unwrap(), *code);
        }
    }

    #[test]
    fn a_code_from_a_newer_server_reads_as_unknown() {
        assert_eq!(serde_json::from_str::<ErrorCode>("\"brand_new_rule\"").unwrap(), ErrorCode::Unknown);
    }
}
