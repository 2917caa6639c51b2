"""Pipelines and their stages: the owner renames, reorders, adds and removes them; a stage that holds deals is
removed only by moving its deals to another stage first (each move kept in the deal's history)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.crm.funnel import schemas
from easyflow.crm.funnel.deals import announce_move
from easyflow.crm.funnel.repository import DealRepository, Mover, PipelineRepository, StageRepository
from easyflow.kit.errors import Conflict, NotFound, Unprocessable
from easyflow.models.crm import MoveActor, Pipeline, PipelineStage, StageKind


def read_pipeline(pipeline: Pipeline, stages: list[PipelineStage]) -> schemas.PipelineRead:
    return schemas.PipelineRead(
        id=pipeline.id,
        name=pipeline.name,
        position=pipeline.position,
        assistant_may_move_back=pipeline.assistant_may_move_back,
        stages=[schemas.StageRead.model_validate(stage) for stage in stages],
    )


class Pipelines:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.pipelines = PipelineRepository(session, tenant_id)
        self.stages = StageRepository(session, tenant_id)

    async def list(self) -> list[schemas.PipelineRead]:
        pipelines = await self.pipelines.all()
        stages = await self.stages.of_pipelines([pipeline.id for pipeline in pipelines])
        return [
            read_pipeline(pipeline, [stage for stage in stages if stage.pipeline_id == pipeline.id])
            for pipeline in pipelines
        ]

    async def get(self, pipeline_id: uuid.UUID) -> schemas.PipelineRead:
        pipeline = await self._pipeline(pipeline_id)
        return read_pipeline(pipeline, list(await self.stages.of_pipelines([pipeline.id])))

    async def create(self, body: schemas.PipelineCreate) -> schemas.PipelineRead:
        pipeline = await self.pipelines.add(
            Pipeline(
                name=body.name,
                position=await self.pipelines.next_position(),
                assistant_may_move_back=body.assistant_may_move_back,
            )
        )
        for position, stage in enumerate(body.stages):
            await self.stages.add(_new_stage(pipeline.id, stage, position))
        return await self.get(pipeline.id)

    async def update(self, pipeline_id: uuid.UUID, body: schemas.PipelineUpdate) -> schemas.PipelineRead:
        pipeline = await self._pipeline(pipeline_id)
        if body.name is not None:
            pipeline.name = body.name
        if body.assistant_may_move_back is not None:
            pipeline.assistant_may_move_back = body.assistant_may_move_back
        if body.stage_order is not None:
            current = {stage.id for stage in await self.stages.of_pipelines([pipeline.id])}
            if set(body.stage_order) != current or len(body.stage_order) != len(current):
                raise Unprocessable("stage_order must name every stage of the pipeline exactly once.")
            await self.stages.renumber(pipeline.id, body.stage_order)
        await self.session.flush()
        return await self.get(pipeline.id)

    async def delete(self, pipeline_id: uuid.UUID) -> None:
        pipeline = await self._pipeline(pipeline_id)
        deals = DealRepository(self.session, self.tenant_id)
        for stage in await self.stages.of_pipelines([pipeline.id]):
            if await deals.count_in_stage(stage.id):
                raise Conflict("The pipeline still has deals: move them to another pipeline first.")
        if len(await self.pipelines.all()) == 1:
            raise Conflict("A workspace keeps at least one pipeline.")
        await self.pipelines.delete(pipeline)

    async def add_stage(self, pipeline_id: uuid.UUID, body: schemas.StageCreate) -> schemas.PipelineRead:
        pipeline = await self._pipeline(pipeline_id)
        stages = list(await self.stages.of_pipelines([pipeline.id]))
        position = len(stages) if body.position is None else min(body.position, len(stages))
        new = await self.stages.add(_new_stage(pipeline.id, body, position))
        stages.insert(position, new)
        await self.stages.renumber(pipeline.id, [stage.id for stage in stages])
        return await self.get(pipeline.id)

    async def update_stage(
        self, pipeline_id: uuid.UUID, stage_id: uuid.UUID, body: schemas.StageUpdate
    ) -> schemas.PipelineRead:
        stage = await self._stage(pipeline_id, stage_id)
        changes = body.model_dump(exclude_unset=True, exclude={"position"})
        becomes_lost = changes.get("kind") == StageKind.lost and stage.kind != StageKind.lost
        if becomes_lost and await DealRepository(self.session, self.tenant_id).count_in_stage(stage.id):
            raise Conflict("Deals are in this stage: a lost stage needs each deal's loss reason; move them first.")
        for field, value in changes.items():
            if value is None and field != "follow_up_days":  # only the reminder can be switched off with null
                raise Unprocessable(f"{field} cannot be null.")
            setattr(stage, field, value)
        if body.position is not None:
            stages = [other for other in await self.stages.of_pipelines([pipeline_id]) if other.id != stage.id]
            stages.insert(min(body.position, len(stages)), stage)
            await self.stages.renumber(pipeline_id, [each.id for each in stages])
        await self.session.flush()
        return await self.get(pipeline_id)

    async def remove_stage(
        self, pipeline_id: uuid.UUID, stage_id: uuid.UUID, *, move_to: uuid.UUID | None, mover: Mover
    ) -> schemas.PipelineRead:
        """Remove a stage; its deals, if any, go to `move_to` first (409 when it holds deals and none is named)."""
        stage = await self._stage(pipeline_id, stage_id)
        stages = list(await self.stages.of_pipelines([pipeline_id]))
        if len(stages) == 1:
            raise Conflict("A pipeline keeps at least one stage.")
        deals = DealRepository(self.session, self.tenant_id)
        in_stage = await deals.in_stage(stage.id)
        if in_stage:
            if move_to is None:
                raise Conflict(f"{len(in_stage)} deal(s) are in this stage: name the stage to move them to (move_to).")
            target = await self.stages.get(move_to)
            if target is None or target.id == stage.id:
                raise Unprocessable("move_to must be another stage of this workspace.")
            if target.kind == StageKind.lost:
                raise Unprocessable("Deals cannot be moved to a lost stage all at once: each needs its loss reason.")
            await deals.declare_mover(mover)
            for deal in in_stage:
                deal.stage_id, deal.pipeline_id = target.id, target.pipeline_id  # as the trigger sets it too
            await self.session.flush()
            await deals.forget_mover()
            for deal in in_stage:
                announce_move(
                    self.session, self.tenant_id, deal, mover, from_stage_id=stage.id, from_pipeline_id=pipeline_id
                )
        await self.stages.delete(stage)
        await self.stages.renumber(pipeline_id, [each.id for each in stages if each.id != stage.id])
        return await self.get(pipeline_id)

    async def _pipeline(self, pipeline_id: uuid.UUID) -> Pipeline:
        pipeline = await self.pipelines.get(pipeline_id)
        if pipeline is None:
            raise NotFound("Pipeline not found.")
        return pipeline

    async def _stage(self, pipeline_id: uuid.UUID, stage_id: uuid.UUID) -> PipelineStage:
        stage = await self.stages.get(stage_id)
        if stage is None or stage.pipeline_id != pipeline_id:
            raise NotFound("Stage not found.")
        return stage


def _new_stage(pipeline_id: uuid.UUID, body: schemas.StageCreate, position: int) -> PipelineStage:
    return PipelineStage(
        pipeline_id=pipeline_id,
        name=body.name,
        position=position,
        kind=body.kind,
        instructions=body.instructions,
        follow_up_days=body.follow_up_days,
        follow_up_text=body.follow_up_text,
    )


def member_mover(user_id: uuid.UUID | None, reason: str = "") -> Mover:
    return Mover(MoveActor.member, user_id, reason)
