"""The catalogue's dashboard pages: services, staff with their hours, resources and products. Everyone signed
in reads them; admins change them. Every change goes through the catalogue's own services (the API's), so the
pages and `/api/v1/...` keep the same rules."""

from fastapi import APIRouter

from easyflow.web.catalogue import products, resources, services, staff

router = APIRouter()
router.include_router(services.router)
router.include_router(staff.router)
router.include_router(resources.router)
router.include_router(products.router)
