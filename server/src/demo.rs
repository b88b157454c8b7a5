//! The demo city: a dozen responsible units and 40 inspection points around
//! Dazhou (达州, about 31.21 N, 107.47 E), the default categories, one admin
//! and three inspectors. Loaded only into an empty data dir.

use crate::db::{Db, reference};
use crate::error::AppError;
use anfang_core::domain::{Point, PointKind, Unit, default_categories};

/// What a person needs to try the demo: printed once by `serve --demo`.
pub struct DemoCredentials {
    pub admin_username: String,
    pub admin_password: String,
    /// (alias, enrollment code)
    pub inspectors: Vec<(String, String)>,
}

/// Responsible units that `serve --demo` gives a unit-portal account
/// (username, unit): the city's 城管局, which answers for the main roads,
/// and a street office. Not made by [`load`], whose callers (tests) add
/// their own unit accounts.
pub const UNIT_ACCOUNTS: [(&str, &str); 2] = [("u03", "U03"), ("u09", "U09")];

/// The local SMTP port `serve --demo` sends email notices to: any SMTP
/// sink listening there receives them (README: "Notices to units").
pub const DEMO_SMTP_PORT: u16 = 2525;

/// Contacts for the demo units with portal accounts, and the office's email
/// server set to a sink on this machine, so a demo case's notices have
/// somewhere to go. Addresses are under `.invalid`: nothing can leave.
pub async fn load_contacts(db: &Db) -> Result<(), AppError> {
    use crate::app::contacts::{ContactInput, SmtpInput, create, save_smtp};
    save_smtp(
        db,
        SmtpInput {
            host: "127.0.0.1".into(),
            port: DEMO_SMTP_PORT.into(),
            tls: "none".into(),
            username: String::new(),
            password: None,
            from: "四城同创办 <anfang@office.demo.invalid>".into(),
        },
    )
    .await?;
    for (_, unit) in UNIT_ACCOUNTS {
        let lower = unit.to_ascii_lowercase();
        for (name, role, who) in [("王联络", "contact", "liaison"), ("李主任", "leader", "leader")] {
            let input = ContactInput {
                name: name.into(),
                role: role.into(),
                email: Some(format!("{who}@{lower}.demo.invalid")),
                active: true,
                ..ContactInput::default()
            };
            create(db, unit.to_owned(), input).await?;
        }
    }
    Ok(())
}

/// A password for a demo unit account, like the admin's.
pub fn unit_password() -> String {
    demo_password()
}

/// The demo inspectors' aliases.
pub const INSPECTORS: [&str; 3] = ["督查01", "督查02", "督查03"];

const UNITS: [(&str, &str, &str); 12] = [
    ("U01", "通川区人民政府", "通川区"),
    ("U02", "达川区人民政府", "达川区"),
    ("U03", "市城市管理行政执法局", "通川区"),
    ("U04", "市公安局交通警察支队", "通川区"),
    ("U05", "市市场监督管理局", "通川区"),
    ("U06", "市交通运输局", "通川区"),
    ("U07", "市住房和城乡建设局", "通川区"),
    ("U08", "西外街道办事处", "通川区"),
    ("U09", "东城街道办事处", "通川区"),
    ("U10", "朝阳街道办事处", "通川区"),
    ("U11", "南外街道办事处", "达川区"),
    ("U12", "达州经开区管委会", "达州经开区"),
];

/// (name, kind, unit, address)
const POINTS: [(&str, PointKind, &str, &str); 40] = [
    ("通川中路", PointKind::MainRoad, "U03", "通川中路全段"),
    ("朝阳中路", PointKind::MainRoad, "U03", "朝阳中路全段"),
    ("西外大道", PointKind::MainRoad, "U08", "西外大道"),
    ("南外大道", PointKind::MainRoad, "U11", "南外大道"),
    ("滨河路", PointKind::MainRoad, "U03", "州河沿岸滨河路"),
    ("凤凰大道", PointKind::MainRoad, "U12", "凤凰大道"),
    ("大北街", PointKind::CommercialStreet, "U09", "大北街步行街"),
    ("来凤路商业街", PointKind::CommercialStreet, "U10", "来凤路"),
    ("西外金龙大道商圈", PointKind::CommercialStreet, "U08", "金龙大道"),
    ("南门口商业街", PointKind::CommercialStreet, "U09", "南门口"),
    ("达川区中心街", PointKind::CommercialStreet, "U02", "达川区中心街"),
    ("柴市街小巷", PointKind::BackStreet, "U09", "柴市街"),
    ("皂角巷", PointKind::BackStreet, "U10", "皂角巷"),
    ("小北街", PointKind::BackStreet, "U09", "小北街"),
    ("肖公庙巷", PointKind::BackStreet, "U10", "肖公庙"),
    ("西外老街巷", PointKind::BackStreet, "U08", "西外老街"),
    ("南外三里坪巷", PointKind::BackStreet, "U11", "三里坪"),
    ("火车站广场路口", PointKind::Intersection, "U04", "达州站前"),
    ("朝阳路与通川路口", PointKind::Intersection, "U04", "朝阳路口"),
    ("西外红旗大桥桥头", PointKind::Intersection, "U04", "红旗大桥西"),
    ("南外航宇路口", PointKind::Intersection, "U04", "航宇路口"),
    ("凤凰山路口", PointKind::Intersection, "U04", "凤凰山下"),
    ("市政务中心办公区", PointKind::UnitCompound, "U07", "市政务中心"),
    ("通川区政府办公区", PointKind::UnitCompound, "U01", "通川区政府"),
    ("达川区政府办公区", PointKind::UnitCompound, "U02", "达川区政府"),
    ("市交通运输局办公区", PointKind::UnitCompound, "U06", "市交通运输局"),
    ("市粮食局老家属院", PointKind::OldResidentialCompound, "U09", "东城老家属院"),
    ("化工厂家属院", PointKind::OldResidentialCompound, "U08", "西外化工厂宿舍"),
    ("纺织厂家属院", PointKind::OldResidentialCompound, "U11", "南外纺织厂宿舍"),
    ("供销社家属院", PointKind::OldResidentialCompound, "U10", "朝阳供销社宿舍"),
    ("莲花湖社区", PointKind::Community, "U08", "莲花湖"),
    ("塔沱社区", PointKind::Community, "U09", "塔沱"),
    ("白塔社区", PointKind::Community, "U10", "白塔"),
    ("魏兴社区", PointKind::Community, "U02", "魏兴"),
    ("朝阳农贸市场", PointKind::Market, "U05", "朝阳路菜市场"),
    ("西外农贸市场", PointKind::Market, "U05", "西外菜市场"),
    ("南外农贸市场", PointKind::Market, "U05", "南外菜市场"),
    ("火车站出租车停靠点", PointKind::TaxiRank, "U06", "达州站出租车上客区"),
    ("客运中心出租车停靠点", PointKind::TaxiRank, "U06", "汽车客运中心"),
    ("高铁站出租车停靠点", PointKind::TaxiRank, "U06", "达州南站"),
];

fn district_of(unit: &str) -> &'static str {
    UNITS.iter().find(|u| u.0 == unit).map(|u| u.2).unwrap_or("通川区")
}

/// A random password that is easy to copy: 4 groups of 4.
fn demo_password() -> String {
    crate::auth::new_enrollment_code().to_lowercase() + "-demo"
}

/// Loads the demo city; refuses a data dir that already has reference data.
/// [`load_at`] on the system clock (tests that build their own state).
pub fn load(db: &Db) -> Result<DemoCredentials, AppError> {
    load_at(db, jiff::Timestamp::now())
}

/// Loads the demo city, its accounts and codes issued at `now`.
pub fn load_at(db: &Db, now: jiff::Timestamp) -> Result<DemoCredentials, AppError> {
    let units = UNITS
        .iter()
        .map(|(id, name, district)| Unit {
            id: (*id).into(),
            name: (*name).into(),
            district: Some((*district).into()),
            active: true,
        })
        .collect();
    let points = POINTS
        .iter()
        .enumerate()
        .map(|(i, (name, kind, unit, address))| {
            // Spread points over a few kilometres around the city centre,
            // deterministically, so the demo is the same on every machine.
            let angle = i as f64 * 2.399_963; // golden angle, radians
            let radius = 0.004 + 0.0009 * i as f64;
            let point = Point {
                id: format!("P{:03}", i + 1),
                name: (*name).into(),
                kind: *kind,
                unit_id: (*unit).into(),
                lat: 31.2090 + radius * angle.sin(),
                lon: 107.4680 + radius * angle.cos(),
                address: Some((*address).into()),
                district: Some(district_of(unit).into()),
                active: true,
            };
            (point, Some(format!("点长{:02}", i + 1)))
        })
        .collect();
    let seed = reference::Seed { units, points, categories: default_categories() };
    if !db.seed_reference_blocking(&seed)? {
        return Err(AppError::Conflict {
            message: "the data dir already has data; the demo loads only into an empty one".into(),
            offset: None,
        });
    }
    let admin_password = demo_password();
    let inspectors = db.add_demo_accounts_blocking(&admin_password, &INSPECTORS, now)?;
    Ok(DemoCredentials { admin_username: "admin".into(), admin_password, inspectors })
}
