//! The tray icon and its menu. Linux tray hosts swallow clicks on the icon itself, so every
//! action lives in the menu.

use tauri::image::Image;
use tauri::menu::{Menu, MenuBuilder, MenuItem, MenuItemBuilder};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Runtime};

use crate::tray_status::TrayState;

pub const OPEN: &str = "open";
pub const PAUSE: &str = "pause";
pub const RESTART: &str = "restart";
pub const QUIT: &str = "quit";

pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    status: MenuItem<R>,
    pause: MenuItem<R>,
    state: std::sync::Mutex<Option<TrayState>>,
}

impl<R: Runtime> Tray<R> {
    pub fn create(app: &AppHandle<R>) -> tauri::Result<Self> {
        let status = MenuItemBuilder::with_id("status", "Agent starting…")
            .enabled(false)
            .build(app)?;
        let pause = MenuItemBuilder::with_id(PAUSE, "Pause contributing")
            .enabled(false)
            .build(app)?;
        let menu: Menu<R> = MenuBuilder::new(app)
            .item(&MenuItemBuilder::with_id(OPEN, "Open EdgeCoder").build(app)?)
            .separator()
            .item(&status)
            .item(&pause)
            .item(&MenuItemBuilder::with_id(RESTART, "Restart agent").build(app)?)
            .separator()
            .item(&MenuItemBuilder::with_id(QUIT, "Quit EdgeCoder").build(app)?)
            .build()?;
        let icon = TrayIconBuilder::with_id("edgecoder")
            .icon(icon_for(TrayState::Starting)?)
            .tooltip("EdgeCoder: agent starting")
            .menu(&menu)
            .show_menu_on_left_click(true)
            .build(app)?;
        Ok(Tray {
            icon,
            status,
            pause,
            state: std::sync::Mutex::new(Some(TrayState::Starting)),
        })
    }

    pub fn show(&self, state: TrayState, line: &str) -> tauri::Result<()> {
        let mut current = self.state.lock().unwrap();
        if *current != Some(state) {
            self.icon.set_icon(Some(icon_for(state)?))?;
            *current = Some(state);
        }
        self.status.set_text(line)?;
        self.icon.set_tooltip(Some(format!("EdgeCoder: {line}")))?;
        let (label, enabled) = match state {
            TrayState::Paused => ("Resume contributing", true),
            TrayState::Running => ("Pause contributing", true),
            _ => ("Pause contributing", false),
        };
        self.pause.set_text(label)?;
        self.pause.set_enabled(enabled)?;
        Ok(())
    }
}

fn icon_for(state: TrayState) -> tauri::Result<Image<'static>> {
    let bytes: &'static [u8] = match state {
        TrayState::Starting => include_bytes!("../icons/tray/starting.png"),
        TrayState::Running => include_bytes!("../icons/tray/running.png"),
        TrayState::Paused => include_bytes!("../icons/tray/paused.png"),
        TrayState::Error => include_bytes!("../icons/tray/error.png"),
    };
    Image::from_bytes(bytes)
}
